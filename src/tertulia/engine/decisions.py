"""The navigation decisions: ``SelectNextAction`` (action states) and ``SelectNextActionForDecisionState``.

The prompt lists the options as ``"action N: <text>"`` / ``"exit N: <description>"``; the schema is one enum field
``next`` over the short labels only (``"action N"`` / ``"exit N"``): a few output tokens instead of the whole text
(faster on every provider), and no free text inside a constrained grammar.
The answer is resolved leniently (exact option, ``"exit 2"`` label, the raw action/exit text, or a target state
name), so small local models and scripted tests both work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tertulia.engine.context import TurnContext
from tertulia.engine.contract import EngineError
from tertulia.engine.graph import target_label
from tertulia.engine.prompts import bullet, decision_messages, memory_context, state_context
from tertulia.engine.tools import ToolRounds


def options_for(actions: list[str], exits: list[dict[str, Any]]) -> list[str]:
    return [f"action {i + 1}: {a}" for i, a in enumerate(actions)] + [
        f"exit {j + 1}: {e.get('description', '')}" for j, e in enumerate(exits)
    ]


def label_of(option: str) -> str:
    return option.split(":", 1)[0]


def choice_schema(options: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"next": {"type": "string", "enum": [label_of(o) for o in options]}},
        "required": ["next"],
        "additionalProperties": False,
    }


def resolve_choice(raw: Any, actions: list[str], exits: list[dict[str, Any]]) -> tuple[str, int]:
    value = raw.get("next") if isinstance(raw, dict) else raw
    if not isinstance(value, str):
        raise EngineError("The language model returned no navigation choice.", 502)
    text = value.strip()
    m = re.match(r"^(action|exit)\s*(\d+)\b", text, re.I)
    if m:
        kind, index = m.group(1).lower(), int(m.group(2)) - 1
        if 0 <= index < (len(actions) if kind == "action" else len(exits)):
            return kind, index
    low = text.lower()
    for i, a in enumerate(actions):
        if a.strip().lower() == low:
            return "action", i
    for j, e in enumerate(exits):
        if str(e.get("description", "")).strip().lower() == low or target_label(e.get("next_state")).lower() == low:
            return "exit", j
    raise EngineError(f"The language model chose an unknown option: {text[:200]!r}.", 502)


async def _decide(
    ctx: TurnContext, interaction: str, task: Callable[[], list[str]], options: list[str], schema_name: str,
    rounds: ToolRounds | None,
) -> Any:
    """One decision; with tools, the tool fields ride in the same schema (no extra call unless a tool is called)."""

    async def ask(offer: bool) -> dict[str, Any]:
        lines, schema = task(), choice_schema(options)
        if rounds:
            lines, schema = lines + rounds.prompt(offer), (rounds.schema(schema) if offer else schema)
        request = ctx.llm.request(interaction, decision_messages(ctx.request.agent, lines, ctx.request.transcript))
        return await ctx.llm.decide(request, schema, schema_name)

    return await rounds.run(ask) if rounds else await ask(False)


async def select_next_action(
    ctx: TurnContext, state: dict[str, Any], graph_description: str | None, rounds: ToolRounds | None = None
) -> tuple[str, int]:
    """``rounds``: the state's ``exit_condition_tool_call_specs`` (the model may call them while deciding)."""
    actions = list(state.get("actions") or [])
    exits = list(state.get("exit_conditions") or [])
    if not actions and not exits:
        raise EngineError(f"Action state {state.get('name')!r} has no actions.")
    if len(actions) + len(exits) == 1:
        return ("action", 0) if actions else ("exit", 0)  # nothing to decide (e.g. the terminal state)
    options = options_for(actions, exits)

    def task() -> list[str]:
        lines = ["You are deciding how to proceed in a structured conversation. Do not write a reply to the user."]
        lines += state_context(state, graph_description)
        lines += bullet("Actions you can perform now", options[: len(actions)])
        lines += bullet("Exit conditions (take one only if it is clearly met)", options[len(actions):])
        lines += bullet("Instructions that apply right now", ctx.effect.instructions)
        lines += memory_context(ctx.working_memory, ctx.reflections, ctx.request.user_model)
        return lines + ["", "Pick exactly one option: perform an action now, or take a satisfied exit condition. "
                            "Answer with its label, such as \"action 1\" or \"exit 1\"."]

    raw = await _decide(ctx, "SelectNextAction", task, options, "select_next_action", rounds)
    return resolve_choice(raw, actions, exits)


async def select_decision_exit(ctx: TurnContext, state: dict[str, Any], rounds: ToolRounds | None = None) -> int:
    exits = list(state.get("exit_conditions") or [])
    if not exits:
        raise EngineError(f"Decision state {state.get('name')!r} has no exit conditions.")
    if len(exits) == 1:
        return 0
    options = options_for([], exits)

    def task() -> list[str]:
        lines = ["You are silently routing a structured conversation. Do not write a reply to the user."]
        lines += [f"## Decision: {state.get('name')}", f"Objective: {state.get('objective', '')}"]
        lines += bullet("Decision guidelines", list(state.get("decision_guidelines") or []) + ctx.effect.instructions)
        lines += bullet("Exit conditions", options)
        lines += memory_context(ctx.working_memory, ctx.reflections, ctx.request.user_model)
        return lines + ["", "Pick the exit condition that best matches the conversation. "
                            "Answer with its label, such as \"exit 1\"."]

    raw = await _decide(
        ctx, "SelectNextActionForDecisionState", task, options, "select_next_state_for_decision_state", rounds
    )
    return resolve_choice(raw, [], exits)[1]
