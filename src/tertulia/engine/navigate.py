"""Step 4: walk the context graph until an action is chosen in an action state.

Every state change emits ``exit-condition-selected`` (action/decision states) and ``state-transitioned``, and appends
a typed ``StateTransitionLog``. Entering a referenced graph pushes a jumpback frame; reaching that graph's terminal
state pops it at once (a ``jumpback`` transition) and navigation continues at the local jumpback state. The number of
transitions per turn is bounded by ``Ports.max_transitions`` (exceeded → ``EngineError``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tertulia.engine import events as ev
from tertulia.engine import tracing
from tertulia.engine.context import TurnContext
from tertulia.engine.contract import AgentAction, EngineError
from tertulia.engine.decisions import select_decision_exit, select_next_action
from tertulia.engine.graph import Position, effective_action_state
from tertulia.engine.states import HANDLERS
from tertulia.engine.steps import Step
from tertulia.engine.tools import tool_step


@dataclass
class Navigation:
    position: Position | None = None
    state: dict[str, Any] = field(default_factory=dict)  # the final action state, globals + behavior applied
    action: str = ""
    transitions: int = 0


def view_of(ctx: TurnContext, pos: Position) -> dict[str, Any]:
    return ctx.effect.apply(effective_action_state(pos))


async def navigate(
    ctx: TurnContext, start: Position, result: Navigation, first: asyncio.Future | None = None
) -> AsyncIterator[AgentAction]:
    """Yields navigation events; ``result`` holds the final position and action. ``first`` is a decision for the
    starting action state computed ahead of time (speculatively, concurrently with behavior selection and memory)."""
    graphs = ctx.graphs
    description = ctx.request.graph.body.get("description")
    if ctx.effect.active:
        yield ev.nav_behavior_override(ctx.effect.overrides_instructions, ctx.effect.overrides_tools)
    pos = start
    entered_by: str | None = None  # the exit that led into the current state this turn (second-transition check)
    while True:
        kind = pos.state.get("type")
        if kind == "action":
            state = view_of(ctx, pos)
            logs: list = []
            if first is not None and pos is start:  # speculated (only for states without exit-condition tools)
                choice, index = await first
            else:
                step = Step()
                async for event in tool_step(
                    ctx, state.get("exit_condition_tool_call_specs"), f" in state {pos.name}",
                    lambda rounds, st=state, name=pos.name, why=entered_by: tracing.traced(
                        "navigation.decision", select_next_action(ctx, st, description, rounds, why),
                        state=name, state_type="action"),
                    step,
                ):
                    yield event
                (choice, index), logs = step.value
            first = None
            if choice == "action":
                result.position, result.state, result.action = pos, state, str(state["actions"][index])
                ctx.select_next_action_tool_call_logs = list(logs)  # the final SelectNextAction's tool rounds
                yield ev.action_selected(result.action)
                return
            exit_ = state["exit_conditions"][index]
            nxt = graphs.target(pos, exit_["next_state"])
            yield ev.exit_condition_selected(str(exit_.get("description", "")), nxt.name, nxt.info)
            extra = {"previous_state_exit_condition_description": str(exit_.get("description", "")), "tool_call_logs": logs}
            entered_by = str(exit_.get("description", ""))
        elif kind == "decision":
            started = ev.decision_started()
            yield started
            st, step = pos.state, Step()
            async for event in tool_step(
                ctx, st.get("tool_call_specs"), f" in state {pos.name}",
                lambda rounds, st=st, name=pos.name: tracing.traced(
                    "navigation.decision", select_decision_exit(ctx, st, rounds), state=name, state_type="decision"),
                step,
                started, st.get("audio_fillers"), st.get("audio_filler_triggered_after"),
            ):
                yield event
            index, logs = step.value
            exit_ = list(st.get("exit_conditions") or [])[index]
            nxt = graphs.target(pos, exit_["next_state"])
            yield ev.exit_condition_selected(str(exit_.get("description", "")), nxt.name, nxt.info)
            extra = {"previous_state_exit_condition_description": str(exit_.get("description", "")), "tool_call_logs": logs}
            entered_by = str(exit_.get("description", ""))
        elif kind in HANDLERS:
            extra = {}
            async for event in HANDLERS[kind](ctx, pos, extra):
                yield event
            nxt = graphs.target(pos, pos.state.get("next_state"))
        else:
            raise EngineError(f"State {pos.name!r} has an unknown type {kind!r}.")
        yield _transition(ctx, result, kind, pos, nxt, extra)
        pos = nxt
        while pos.stack and graphs.is_terminal(pos):
            back = graphs.jumpback(pos)
            yield _transition(ctx, result, "jumpback", pos, back, {})
            pos = back


def _transition(ctx: TurnContext, result: Navigation, kind: str, prev: Position, nxt: Position, extra: dict) -> AgentAction:
    result.transitions += 1
    if result.transitions > ctx.ports.max_transitions:
        raise EngineError(
            f"The context graph made more than {ctx.ports.max_transitions} state transitions in one turn "
            f"(last: {prev.name} -> {nxt.name}); check the graph for a loop.",
            500,
        )
    ctx.transition_logs.append(ev.transition_log(kind, prev.name, prev.info, nxt.name, nxt.info, **extra))
    tracing.instant("navigation.transition", transition_type=kind, from_state=prev.name, to_state=nxt.name,
                    transition_index=result.transitions)
    return ev.state_transitioned(prev.name, prev.info, nxt.name, nxt.info)
