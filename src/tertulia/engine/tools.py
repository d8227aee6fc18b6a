"""Tool rounds, shared by every LLM interaction that may call tools (domain model §12.2, "tool calls anywhere"):
``SelectNextAction`` (an action state's ``exit_condition_tool_call_specs``), ``SelectNextActionForDecisionState`` and
``GenerateReflection`` (``tool_call_specs``), ``GenerateToolParams`` (a tool-call state's helper ``tool_call_specs``)
and ``EngageUser`` (``action_tool_call_specs`` plus a dynamic behavior's ``change-tool-candidates``).

The model may call up to ``MAX_ROUNDS`` tools, one per round. Decisions offer the tools *inside* the decision schema
(``tool``/``input`` next to ``next``), so a decision that needs no tool costs no extra call; free-text and params
generation ask a separate tool choice first (``choose_tools``). States without tools cost nothing at all.

Each call emits ``tool-call-started``/``tool-call-ended`` (and ``action-too-long`` when the tool outlasts its spec's
``audio_filler_triggered_after``) and appends one inner list to ``ToolRounds.logs`` (the ``list[list[ToolCallLog]]`` of
insights and transition logs). Results follow ``result_persistence``: ``ephemeral`` results reach only the rest of the
current interaction (log output null), ``persisted-preferred`` ones are kept in working memory when < 5,000 chars,
``persisted`` ones always (error if larger).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from tertulia.engine import events as ev
from tertulia.engine import tracing
from tertulia.engine.context import TurnContext
from tertulia.engine.contract import AgentAction, EngineError
from tertulia.engine.ports import ToolInfo
from tertulia.engine.prompts import bullet, decision_messages, memory_context
from tertulia.engine.steps import Emit, Step, run_step, with_filler

MAX_ROUNDS = 2
NO_TOOL = "none"
PERSIST_LIMIT = 5000

Ask = Callable[[bool], Awaitable[dict[str, Any] | None]]


async def describe(ctx: TurnContext, tool_id: str, constraint: str) -> ToolInfo:
    fn = getattr(ctx.ports.tools, "describe", None)
    info = await fn(tool_id, constraint) if fn else None
    return info or ToolInfo(tool_id, tool_id, constraint or "latest")


async def run_tool(
    ctx: TurnContext, emit: Emit, spec: dict[str, Any], info: ToolInfo, name: str, params: dict[str, Any],
    round_index: int, context: str,
) -> tuple[dict[str, Any], str, str]:
    """Invoke one tool: events, filler, persistence. Returns ``(ToolCallLog, output, version)``."""
    started = ev.tool_call_started(round_index, info.tool_id, info.version, params)
    emit(started)
    invocation = ctx.ports.tools.invoke(info.tool_id, str(spec.get("version_constraint") or ""), params)
    span = tracing.start(f"execute_tool {name}", **{
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "tool_id": info.tool_id,
        "tool_round": round_index,
    })
    try:
        with tracing.active(span):
            result = await with_filler(
                invocation, emit, started, spec.get("audio_fillers") if ctx.request.voice_response else None,
                spec.get("audio_filler_triggered_after"),
                f"{ctx.request.interaction_id}:{info.tool_id}:{round_index}",
            )
        span.set_attributes({"tertulia.tool_version": result.version or info.version,
                             "tertulia.tool_succeeded": bool(result.succeeded)})
    except EngineError as exc:
        tracing.fail(span, exc)
        raise
    except BaseException as exc:
        tracing.fail(span, exc)
        if not isinstance(exc, Exception):
            raise
        raise EngineError(f"Tool {info.tool_id} could not be invoked: {exc}", 502) from exc  # a broken tool runner
    finally:
        span.end()
    version = result.version or info.version
    output = result.output if result.succeeded else f"Tool call failed: {result.output}"
    emit(ev.tool_call_ended(round_index, info.tool_id, version, params, output, result.duration))
    persistence = spec.get("result_persistence") or "persisted-preferred"
    if persistence == "persisted" and len(output) >= PERSIST_LIMIT:
        raise EngineError(f"Tool {info.tool_id} returned {len(output)} characters; 'persisted' allows < 5000.")
    kept = persistence == "persisted" or (persistence == "persisted-preferred" and len(output) < PERSIST_LIMIT)
    if kept:
        ctx.remember(output, context)
    log = ev.tool_call_log(name, info.tool_id, version, params, output if kept else None, result.duration)
    return log, output, version


class ToolRounds:
    """The tools one LLM interaction may call and what it called. ``logs``: one inner list per round; ``results``:
    every output so far (ephemeral ones included), shown to the rest of this interaction only."""

    def __init__(self, ctx: TurnContext, specs: list[dict[str, Any]] | None, emit: Emit, where: str = "") -> None:
        self.ctx, self.emit, self.where = ctx, emit, where
        self.specs = [s for s in specs or [] if s.get("tool_id")]
        self.infos: list[ToolInfo] = []
        self.names: list[str] = []
        self.logs: list[list[dict[str, Any]]] = []
        self.results: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.specs)

    async def _load(self) -> None:
        if self.infos or not self.specs:
            return
        for s in self.specs:
            self.infos.append(await describe(self.ctx, str(s["tool_id"]), str(s.get("version_constraint") or "")))
        self.names = [str(s.get("tool_name") or i.name) for s, i in zip(self.specs, self.infos, strict=True)]

    def prompt(self, offer: bool) -> list[str]:
        lines = bullet("Tool results so far (visible in this step only)", self.results)
        if offer:
            lines = [
                "## Tools you may call (one per round; set `tool` to its name and `input` to its input, or `tool` to "
                "'none' when no tool is needed or the results below suffice)",
                *[f"- {n}: {i.description} {s.get('additional_instruction') or ''}\n  input schema: "
                  f"{json.dumps(i.input_schema, sort_keys=True)}"
                  for n, i, s in zip(self.names, self.infos, self.specs, strict=True)],
                *lines,
            ]
        return lines

    def schema(self, base: dict[str, Any] | None = None) -> dict[str, Any]:
        """``base`` (an object schema) plus the ``tool``/``input`` fields."""
        props = {"tool": {"type": "string", "enum": [NO_TOOL, *self.names]}, "input": {"type": "object"}}
        base = base or {"type": "object", "properties": {}, "required": []}
        return {**base, "properties": {**props, **base.get("properties", {})},
                "required": ["tool", "input", *base.get("required", [])]}

    async def run(self, ask: Ask) -> dict[str, Any] | None:
        """``ask(offer_tools)`` makes the interaction's LLM call; while it picks a tool (and rounds remain) the tool
        runs and ``ask`` is called again. Returns the last answer (``ask(False)`` closes the loop)."""
        await self._load()
        for index in range(MAX_ROUNDS + 1):
            offer = bool(self.specs) and index < MAX_ROUNDS
            raw = await ask(offer)
            choice = str(raw.get("tool") or NO_TOOL) if isinstance(raw, dict) else NO_TOOL
            if not offer or choice not in self.names:
                return raw
            await self.call(index, choice, raw.get("input"))
        return None  # unreachable: the last round offers no tool

    async def call(self, round_index: int, name: str, params: Any) -> None:
        idx = self.names.index(name)
        params = params if isinstance(params, dict) else {}
        context = f"Output of tool {name}{self.where}"
        log, output, _ = await run_tool(
            self.ctx, self.emit, self.specs[idx], self.infos[idx], name, params, round_index, context
        )
        self.results.append(f"{name}({json.dumps(params, sort_keys=True)}) -> {output}")
        self.logs.append([log])


async def choose_tools(rounds: ToolRounds, interaction: str, schema_name: str, purpose: list[str]) -> None:
    """Tool rounds before a free-text or params generation: a separate tool choice per round (only when tools exist).
    ``rounds.results`` then holds what the generation should see."""
    if not rounds:
        return
    ctx = rounds.ctx

    async def ask(offer: bool) -> dict[str, Any] | None:
        if not offer:
            return None
        task = [
            "Before going on you may call ONE tool to get information or act. Do not write a reply to the user.",
            *purpose,
            *rounds.prompt(True),
            *memory_context(ctx.working_memory, ctx.reflections, ctx.request.user_model),
        ]
        request = ctx.llm.request(interaction, decision_messages(ctx.request.agent, task, ctx.request.transcript))
        return await ctx.llm.decide(request, rounds.schema(), schema_name)

    await rounds.run(ask)


async def engage_tool_rounds(
    ctx: TurnContext, state: dict[str, Any], action: str, ephemeral: list[str]
) -> AsyncIterator[AgentAction]:
    """The reply's tool rounds; logs go to ``engage_user_tool_call_logs``, results to ``ephemeral`` (the reply)."""
    if not [s for s in state.get("action_tool_call_specs") or [] if s.get("tool_id")]:
        return

    async def work(emit: Emit) -> None:
        rounds = ToolRounds(ctx, state.get("action_tool_call_specs"), emit)
        await choose_tools(rounds, "EngageUser", "select_engage_user_tool", [f"## What you are about to do\n{action}"])
        ctx.engage_user_tool_call_logs.extend(rounds.logs)
        ephemeral.extend(r for r, log in zip(rounds.results, rounds.logs, strict=True) if log[0]["output"] is None)

    async for event in run_step(work, Step()):
        yield event


async def tool_step(
    ctx: TurnContext, specs: list[dict[str, Any]] | None, where: str, decide: Callable[[ToolRounds], Awaitable[Any]],
    step: Step, started: AgentAction | None = None, fillers: Any = None, after: Any = None,
) -> AsyncIterator[AgentAction]:
    """Run ``decide(rounds)`` as one step whose tool events stream out as they happen (and, when ``started`` and
    ``fillers`` are given, with its ``action-too-long`` filler). ``step.value = (decide's result, rounds.logs)``.
    Without tools or fillers it is a plain await. Fillers are spoken, so only voice replies get them."""
    if not ctx.request.voice_response:
        fillers = None
    if not any(s.get("tool_id") for s in specs or []) and not (started is not None and fillers):
        step.value = (await decide(ToolRounds(ctx, [], _no_emit, where)), [])
        return

    async def work(emit: Emit) -> tuple[Any, list[list[dict[str, Any]]]]:
        rounds = ToolRounds(ctx, specs, emit, where)
        pending = decide(rounds)
        if started is not None:
            seed = f"{ctx.request.interaction_id}:{started.action['type']}:{where}"
            pending = with_filler(pending, emit, started, fillers, after, seed)
        return await pending, rounds.logs

    async for event in run_step(work, step):
        yield event


def _no_emit(event: AgentAction) -> None:
    raise AssertionError(f"unexpected event without tools: {event.action.get('type')}")
