"""The silent states: recall, reflection, annotation and tool-call. Each handler is an async generator of
``AgentAction`` events that fills ``out`` with the transition-log extras of the state it leaves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from tertulia.core.ids import new_object_id
from tertulia.engine import events as ev
from tertulia.engine.context import TurnContext
from tertulia.engine.contract import AgentAction, EngineError, InnerThought
from tertulia.engine.graph import Position
from tertulia.engine.memory import answer_queries
from tertulia.engine.prompts import bullet, decision_messages, memory_context
from tertulia.engine.steps import Step, run_step
from tertulia.engine.tools import ToolRounds, choose_tools, describe, run_tool, tool_step

QUERIES_SCHEMA = {
    "type": "object",
    "properties": {"queries": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
    "required": ["queries"],
    "additionalProperties": False,
}


async def recall(ctx: TurnContext, pos: Position, out: dict[str, Any]) -> AsyncIterator[AgentAction]:
    state = pos.state
    if state.get("queries"):
        queries = [str(q) for q in state["queries"]]
        yield ev.recall_static_queries(queries)
    else:
        info = str(state.get("requested_information") or "")
        task = [
            "Write up to 3 short search queries over what is known about the user (memories) that would retrieve "
            "the requested information. Do not write a reply to the user.",
            f"## Requested information\n{info}",
            *memory_context(ctx.working_memory, ctx.reflections, ctx.request.user_model),
        ]
        request = ctx.llm.request("GenerateRecallQueries", decision_messages(ctx.request.agent, task, ctx.request.transcript))
        raw = await ctx.llm.decide(request, QUERIES_SCHEMA, "generate_recall_queries")
        queries = [str(q).strip() for q in (raw.get("queries") or []) if str(q).strip()] or ([info] if info else [])
        yield ev.recall_dynamic_queries(queries, info)
    done = {q.strip().lower() for q in [*ctx.request.performed_queries, *ctx.performed_queries]}
    fresh = []
    for q in queries:
        if q.strip().lower() not in done:
            done.add(q.strip().lower())
            fresh.append(q)
    answers = await answer_queries(ctx, fresh, context_prefix=f"Recalled in state {pos.name}")
    ctx.performed_queries.extend(fresh)
    yield ev.recall_memory_retrieved(answers)
    out["performed_queries"] = fresh


def _limit_words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit]) if limit and len(words) > limit else text.strip()


def _thought(ctx: TurnContext, text: str) -> InnerThought:
    thought = InnerThought(id=new_object_id(), text=text, created_at=ctx.ports.clock.now())
    ctx.inner_thoughts.append(thought)
    return thought


async def reflection(ctx: TurnContext, pos: Position, out: dict[str, Any]) -> AsyncIterator[AgentAction]:
    state = pos.state
    limit = int(state.get("word_limit") or 0)
    prompt = str(state.get("problem") or "")
    started = ev.reflection_prompt(prompt)
    yield started

    async def generate(rounds: ToolRounds) -> str:
        problem = f"## Problem to reflect on\n{prompt}"
        await choose_tools(rounds, "GenerateReflection", "select_reflection_tool", [problem])
        task = [
            "Think privately (this is an inner thought, never shown to the user).",
            problem,
            f"Answer in at most {limit} words." if limit else "",
            *bullet("Tool results", rounds.results),
            *memory_context(ctx.working_memory, ctx.reflections, ctx.request.user_model),
        ]
        request = ctx.llm.request(
            "GenerateReflection",
            decision_messages(ctx.request.agent, task, ctx.request.transcript),
            max_tokens=max(16, limit * 2) if limit else None,
        )
        return _limit_words(await ctx.llm.text(request), limit)

    step = Step()
    async for event in tool_step(ctx, state.get("tool_call_specs"), f" in state {pos.name}", generate, step,
                                 started, state.get("audio_fillers"), state.get("audio_filler_triggered_after")):
        yield event
    text, logs = step.value
    yield ev.reflection_generated(text)
    ctx.reflections.append(text)
    out["inner_thought_message_id"] = _thought(ctx, text).id
    out["tool_call_logs"] = logs


async def annotation(ctx: TurnContext, pos: Position, out: dict[str, Any]) -> AsyncIterator[AgentAction]:
    text = str(pos.state.get("inner_thought") or "")
    yield ev.annotation_retrieved(text)
    out["inner_thought_message_id"] = _thought(ctx, text).id


async def tool_call(ctx: TurnContext, pos: Position, out: dict[str, Any]) -> AsyncIterator[AgentAction]:
    state = pos.state
    spec = state.get("designated_tool") or {}
    tool_id = str(spec.get("tool_id") or "")
    constraint = str(spec.get("version_constraint") or "")
    if not tool_id:
        raise EngineError(f"Tool-call state {pos.name!r} has no designated tool.")
    info = await describe(ctx, tool_id, constraint)
    started = ev.designated_tool_retrieved(tool_id, info.version)
    yield started

    async def generate(rounds: ToolRounds) -> dict[str, Any]:
        goal = [f"## Goal\nGather what is needed to generate the input for the tool {info.name!r}.",
                f"## Objective\n{state.get('designated_tool_call_objective', '')}"]
        await choose_tools(rounds, "GenerateToolParams", "select_helper_tool", goal)
        task = [
            f"Generate the input for the tool {info.name!r}. Output only the tool input as JSON.",
            f"## Tool description\n{info.description}" if info.description else "",
            f"## Additional instruction\n{spec['additional_instruction']}" if spec.get("additional_instruction") else "",
            f"## Objective\n{state.get('designated_tool_call_objective', '')}",
            f"## Context\n{state.get('designated_tool_call_context', '')}",
            *bullet("Guidances", list(state.get("designated_tool_call_guidances") or [])),
            *bullet("Validations (must hold)", list(state.get("designated_tool_call_validations") or [])),
            *bullet("Results of helper tools", rounds.results),
            f"## Input JSON schema\n{json.dumps(info.input_schema, sort_keys=True)}",
            *memory_context(ctx.working_memory, ctx.reflections, ctx.request.user_model),
        ]
        request = ctx.llm.request("GenerateToolParams", decision_messages(ctx.request.agent, task, ctx.request.transcript))
        return await ctx.llm.decide(request, info.input_schema or {"type": "object"}, "generate_tool_params")

    step = Step()
    async for event in tool_step(
        ctx, state.get("tool_call_specs"), f" in state {pos.name}", generate, step, started,
        state.get("designated_tool_call_params_generation_audio_fillers"),
        state.get("designated_tool_call_params_generation_audio_filler_triggered_after"),
    ):
        yield event
    params, helper_logs = step.value
    yield ev.designated_params_generated(tool_id, info.version, params)
    context = f"Output of tool {info.name} in state {pos.name}"
    call = Step()
    async for event in run_step(lambda emit: run_tool(ctx, emit, spec, info, info.name, params, 0, context), call):
        yield event
    log, output, version = call.value
    yield ev.tool_output_available(tool_id, version, output, log["duration"], params)
    out["tool_call_logs"] = helper_logs
    out["designated_tool_call_log"] = log


HANDLERS = {"recall": recall, "reflection": reflection, "annotation": annotation, "tool-call": tool_call}
