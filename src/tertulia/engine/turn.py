"""One agent turn (domain model §12.2): behavior selection ∥ active memory ∥ speculative first navigation decision,
then navigation, then the streamed reply. Persists nothing; the caller commits the ``TurnOutcome``.

Critical path on a plain action-state turn: the ``SelectNextAction`` decision starts at once, concurrently with
dynamic-behavior selection and the active-memory check, assuming the previous behavior stays and no working memory
appears. When either assumption fails, the speculative decision is discarded and made again with the real context.
Events are always emitted in spec order (behavior → memory → navigation → engage) whatever finished first.

Traced (``engine/tracing.py``): one ``tertulia.turn`` span with the steps as children; the steps' LLM calls and tool
calls are children of their step.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from tertulia.core.ids import new_object_id
from tertulia.engine import events as ev
from tertulia.engine import tracing
from tertulia.engine.context import BehaviorEffect, TurnContext
from tertulia.engine.contract import EngineError, Fragment, Ports, TurnEvent, TurnOutcome, TurnRequest
from tertulia.engine.dbs import select_behavior, speculated_behavior
from tertulia.engine.decisions import select_next_action
from tertulia.engine.graph import Graphs
from tertulia.engine.memory import active_memory
from tertulia.engine.navigate import Navigation, navigate, view_of
from tertulia.engine.prompts import engage_messages
from tertulia.engine.routing import TurnLLM
from tertulia.engine.tools import engage_tool_rounds


def _key(behavior) -> tuple[str, int] | None:
    return (behavior.set_id, behavior.version) if behavior else None


def run_turn(request: TurnRequest, ports: Ports) -> AsyncIterator[TurnEvent]:
    """The turn's events (``async for``; ``aclose`` cancels what is left of it), inside its ``tertulia.turn`` span."""
    span = tracing.start(
        "tertulia.turn", org_id=request.org_id, conversation_id=request.conversation_id,
        interaction_id=request.interaction_id, graph_id=request.graph.graph_id, opening=request.state is None,
        voice_response=request.voice_response,
    )
    return tracing.iterate_in(span, _turn(request, ports, span))


async def _turn(request: TurnRequest, ports: Ports, span) -> AsyncIterator[TurnEvent]:  # noqa: ANN001
    ctx = TurnContext(request, ports, TurnLLM(ports, request.llm_model_preferences), Graphs(request))
    agent_message_id = request.agent_message_id or new_object_id()
    start = ctx.graphs.start(request)
    is_action = start.state.get("type") == "action"
    skip_memory = is_action and bool(start.state.get("skip_active_memory_retrieval"))

    assumed = speculated_behavior(ctx)
    speculative = None
    exit_tools = any(s.get("tool_id") for s in start.state.get("exit_condition_tool_call_specs") or [])
    if is_action and not exit_tools:  # a decision that may call tools has side effects: never speculate it
        spec_ctx = dataclasses.replace(ctx, effect=BehaviorEffect.of(assumed), working_memory=[])
        speculative = asyncio.ensure_future(tracing.traced(
            "navigation.decision",
            select_next_action(spec_ctx, view_of(spec_ctx, start), request.graph.body.get("description")),
            state=start.name, state_type="action", speculative=True,
        ))
    dbs_task = asyncio.ensure_future(tracing.traced("select_dynamic_behavior", select_behavior(ctx)))
    memory_task = asyncio.ensure_future(tracing.traced("active_memory", active_memory(ctx, skip_memory),
                                                       skipped=skip_memory))
    tasks = [t for t in (speculative, dbs_task, memory_task) if t is not None]
    try:
        selection, memory = await asyncio.gather(dbs_task, memory_task)
    except BaseException:
        await _cancel(tasks)
        raise

    try:
        selected = selection.selected
        yield ev.dbs_vector_generated()
        yield ev.dbs_relevance_retrieval_completed()
        yield ev.dbs_completed(_key(selected), request.previous_behavior)
        if not memory.skipped:
            yield ev.memory_check_completed(memory.queries)
            yield ev.memory_extract_completed(memory.answers)

        ctx.effect = BehaviorEffect.of(selected)
        if speculative is not None and (_key(selected) != _key(assumed) or ctx.working_memory):
            await _cancel([speculative])
            speculative = None

        nav = Navigation()
        async for event in tracing.iterate_in(tracing.start("navigation"), navigate(ctx, start, nav, speculative)):
            yield event
        speculative = None

        parts: list[str] = []
        engage = tracing.start("engage", state=nav.position.name, action=nav.action)
        async for event in tracing.iterate_in(engage, _engage(ctx, nav, parts)):
            yield event
    finally:
        if speculative is not None:
            await _cancel([speculative])

    position = nav.position
    completed = ctx.graphs.is_terminal(position) and not position.stack
    span.set_attributes({"tertulia.llm_calls": ctx.llm.calls, "tertulia.transitions": nav.transitions,
                         "tertulia.state": position.name, "tertulia.conversation_completed": completed})
    yield TurnOutcome(
        agent_message_id=agent_message_id,
        agent_message="".join(parts),
        inner_thoughts=list(ctx.inner_thoughts),
        state=position.pointer(),
        insights=insights(ctx, nav, _key(selected)),
        active_behavior=_key(selected),
        triggered_behavior=_key(selected) if _key(selected) != _tuple(request.previous_behavior) else None,
        conversation_completed=completed,
        llm_calls=ctx.llm.calls,
        performed_queries=list(ctx.performed_queries),
    )


async def _engage(ctx: TurnContext, nav: Navigation, parts: list[str]) -> AsyncIterator[TurnEvent]:
    """The reply: the behavior override event, the reply's tool rounds, then the streamed ``EngageUser`` text
    (``parts`` collects its fragments)."""
    request = ctx.request
    if ctx.effect.active:
        yield ev.engage_behavior_override(ctx.effect.overrides_instructions, ctx.effect.overrides_tools)
    ephemeral: list[str] = []
    async for event in engage_tool_rounds(ctx, nav.state, nav.action, ephemeral):
        yield event
    messages = engage_messages(
        request.agent,
        nav.state,
        nav.action,
        request.graph.body.get("description"),
        ctx.working_memory,
        ctx.reflections,
        request.user_model,
        request.transcript,
        ctx.effect.instructions,
        ctx.effect.overrides_instructions,
        ephemeral,
    )
    pending: str | None = None
    async for piece in ctx.llm.stream(ctx.llm.request("EngageUser", messages)):
        if pending is not None:
            yield ev.message_fragment(len(parts) - 1, pending, False)
            yield Fragment(pending)
        parts.append(piece)
        pending = piece
    final = pending if pending is not None else ""
    yield ev.message_fragment(max(len(parts) - 1, 0), final, True)
    if final:
        yield Fragment(final)


def _tuple(value) -> tuple[str, int] | None:
    return (value[0], int(value[1])) if value else None


def insights(ctx: TurnContext, nav: Navigation, triggered: tuple[str, int] | None) -> dict[str, Any]:
    """Exactly the ``get-interaction-insights`` response body."""
    return {
        "current_state_name": nav.position.name,
        "current_state_action": nav.action,
        "current_state_objective": str(nav.state.get("objective", "")),
        "state_transition_logs": list(ctx.transition_logs),
        "working_memory": [dict(m) for m in ctx.working_memory],
        "reflections": list(ctx.reflections),
        "triggered_dynamic_behavior_set_version_info": list(triggered) if triggered else None,
        "select_next_action_tool_call_logs": list(ctx.select_next_action_tool_call_logs),
        "engage_user_tool_call_logs": list(ctx.engage_user_tool_call_logs),
    }


async def _cancel(tasks: list[asyncio.Future]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()
    for task in tasks:
        try:
            await task
        except (asyncio.CancelledError, EngineError, Exception):  # noqa: BLE001 - discarded work
            pass
