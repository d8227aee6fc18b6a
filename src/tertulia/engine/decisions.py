"""The navigation decisions: ``SelectNextAction`` (action states) and ``SelectNextActionForDecisionState``.

Four depths (``Ports.reasoning``, ``TERTULIA_DECISION_REASONING``), each ONE constrained call (and ``checks``, one
request per exit, concurrently: ``engine/checks.py``):

* ``none`` (hosted models): the prompt lists ``"action N: <text>"`` / ``"exit N: <description>"``; the schema is one
  enum ``next`` over the short labels: a few output tokens.
* ``contrast`` (small local models; the default for them, chosen on the labelled set in ``benchmarks/README.md``): one
  pick that describes what the user just said (``what_the_user_did``, ``engine/contrast.py``): a concrete alternative
  (``OTHER``: they ask a question, hesitate, refuse, or say something else), listed first, or the exit condition
  closest to the message by its text (every exit without an embedder: ``shown_exits``); the alternative → stay and
  perform the ``action`` named by its text (a bare greeting is offered no exit, and a second stay, ``GREETING``, to
  pick the action by). A 1.5B model that judges a condition yes/no poorly ("12/07/1975" → "no" to "has given their
  date of birth") tells apart two descriptions of the message well; its yes/no still serves as a veto read from
  token probabilities: with ``Ports.exit_checks`` a picked exit is then checked on its own (``engine/exit_check.py``).
* ``checklist``: an action state's exit conditions are checked one by one, each written out and answered yes/no
  (``engine/checklist.py``); no "yes" → stay and perform the ``action`` named by its text.
* ``brief``: the answer restates what the user just said (``user_just_said``), then names the met exit condition by
  its own text (``exit_condition_met``, or ``"none of them: stay in this state"``), then the action by its text.

In ``contrast``, ``checklist`` and ``brief`` the latest user input is framed on its own ("What the user just said")
right before the options, the exits are listed closest to that message first (``engine/closeness.py``, the ``Embedder``
port; without one, in an order seeded by the turn's text, never the author's), and a state entered earlier in the same
turn is left again only by its closest exit, when that exit is closer to the message than the one that led in (the
second-transition check). A decision state restates the key facts (``key_facts``) before naming its exit
(``exit_condition``), except under ``contrast``: named at once, in two orders (``engine/decision_pick.py``). In every
depth the prompt of a state entered this turn says so. Answers are resolved leniently (option text, ``"exit 2"``
labels, a target state name, any field style), so small models and scripted tests both work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tertulia.engine.checklist import checklist_tail, met_exits
from tertulia.engine.checks import check_exits
from tertulia.engine.closeness import Ranking, exit_order, ranking_for
from tertulia.engine.context import TurnContext
from tertulia.engine.contract import EngineError
from tertulia.engine.contrast import DID_KEY, contrast_tail
from tertulia.engine.decision_pick import contrast_decision_exit, exit_question
from tertulia.engine.exit_check import exit_holds
from tertulia.engine.graph import target_label
from tertulia.engine.greeting import agent_name, is_bare_greeting, speaks_of_greeting
from tertulia.engine.prompts import (
    bullet,
    closing_answer,
    decision_messages,
    framed_decision_messages,
    latest_input,
    match_option,
    memory_context,
    state_context,
)
from tertulia.engine.tools import ToolRounds


STAY = "none of them: stay in this state"
SAID_MAX = 160  # characters of the restatement (bounds the reasoning's output tokens)


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


def _unique_texts(texts: list[str]) -> list[str]:
    out: list[str] = []
    for t in texts:
        t = " ".join(t.split()) or "(no description)"
        while t.lower() in (o.lower() for o in out) or t.lower() == STAY.lower():
            t += " (another)"
        out.append(t)
    return out


def resolve_brief(raw: Any, actions: list[str], exits: list[dict[str, Any]]) -> tuple[str, int]:
    """A brief answer (``exit_condition_met`` + ``action``); a label answer (``next``) is accepted too."""
    if not isinstance(raw, dict) or ("exit_condition_met" not in raw and "action" not in raw):
        return resolve_choice(raw, actions, exits)
    met = str(raw.get("exit_condition_met") or STAY).strip()
    if met.lower() != STAY.lower() and not met.lower().startswith("none"):
        index = match_option(met, _unique_texts([str(e.get("description", "")) for e in exits]))
        if index is None:
            return resolve_choice({"next": met}, actions, exits)
        return "exit", index
    if len(actions) <= 1:
        return "action", 0
    index = match_option(str(raw.get("action") or ""), _unique_texts(actions))
    if index is None:
        return resolve_choice({"next": str(raw.get("action") or "")}, actions, exits)
    return "action", index


def _entered_note(entered_by: str | None) -> list[str]:
    if not entered_by:
        return []
    return ["## You entered this state during this turn",
            f"The previous state's exit condition \"{entered_by}\" was met by the user's latest message. Take an exit "
            "below only if that same message ALSO clearly meets it on its own; otherwise stay and perform an action."]


async def _decide(
    ctx: TurnContext, interaction: str, messages: Callable[[list[str]], list], schema: dict[str, Any],
    schema_name: str, rounds: ToolRounds | None,
) -> Any:
    """One decision; with tools, the tool fields ride in the same schema (no extra call unless a tool is called)."""

    async def ask(offer: bool) -> dict[str, Any]:
        extra, final = (rounds.prompt(offer), rounds.schema(schema) if offer else schema) if rounds else ([], schema)
        request = ctx.llm.request(interaction, messages(extra))
        return await ctx.llm.decide(request, final, schema_name)

    return await rounds.run(ask) if rounds else await ask(False)


async def select_next_action(
    ctx: TurnContext, state: dict[str, Any], graph_description: str | None, rounds: ToolRounds | None = None,
    entered_by: str | None = None,
) -> tuple[str, int]:
    """``rounds``: the state's ``exit_condition_tool_call_specs`` (the model may call them while deciding).
    ``entered_by``: the exit condition that led into this state earlier in the same turn (None for the first)."""
    actions = list(state.get("actions") or [])
    exits = list(state.get("exit_conditions") or [])
    if not actions and not exits:
        raise EngineError(f"Action state {state.get('name')!r} has no actions.")
    if len(actions) + len(exits) == 1:
        return ("action", 0) if actions else ("exit", 0)  # nothing to decide (e.g. the terminal state)

    def head() -> list[str]:  # rebuilt per tool round: a persisted tool result lands in working memory
        lines = ["You are deciding how to proceed in a structured conversation. Do not write a reply to the user."]
        return lines + state_context(state, graph_description)

    def context() -> list[str]:
        lines = bullet("Instructions that apply right now", ctx.effect.instructions)
        return lines + memory_context(ctx.working_memory, ctx.reflections, ctx.request.user_model)

    if ctx.ports.reasoning == "checks" and exits and not rounds:
        return await _checks_action(ctx, state, actions, exits, head() + context(), entered_by)
    if ctx.ports.reasoning == "contrast" and exits:
        return await _contrast_action(ctx, state, actions, exits, lambda: head() + context(), rounds, entered_by)
    if ctx.ports.reasoning in ("checklist", "checks") and exits:  # checks with exit-condition tools: one call
        return await _checklist_action(ctx, state, actions, exits, lambda: head() + context(), rounds, entered_by)
    if ctx.ports.reasoning != "none":
        return await _brief_action(ctx, state, actions, exits, lambda: head() + context(), rounds, entered_by)
    options = options_for(actions, exits)

    def task() -> list[str]:
        lines = head() + bullet("Actions you can perform now", options[: len(actions)])
        lines += bullet("Exit conditions (take one only if it is clearly met)", options[len(actions):])
        lines += context() + _entered_note(entered_by)
        return lines + ["", "Pick exactly one option: perform an action now, or take a satisfied exit condition. "
                            "Answer with its label, such as \"action 1\" or \"exit 1\"."]

    raw = await _decide(ctx, "SelectNextAction",
                        lambda extra: decision_messages(ctx.request.agent, task() + extra, ctx.request.transcript),
                        choice_schema(options), "select_next_action", rounds)
    return resolve_choice(raw, actions, exits)


def _stay(raw: Any, actions: list[str], action_texts: list[str]) -> tuple[str, int]:
    if len(actions) <= 1:
        return "action", 0
    index = match_option(str(raw.get("action") or "") if isinstance(raw, dict) else "", action_texts)
    return "action", index if index is not None else 0


def _checked(choice: tuple[str, int], ranking: Ranking, raw: Any, actions: list[str],
             action_texts: list[str]) -> tuple[str, int]:
    if choice[0] == "exit" and not ranking.allows(choice[1]):
        return _stay(raw, actions, action_texts)
    return choice


def exits_taken(transition_logs: list[dict[str, Any]], entered_by: str | None) -> list[str]:
    """Every exit condition taken so far this turn (from its transition logs), the one that led here last; none
    for the turn's first decision."""
    if not entered_by:
        return []
    earlier = [str(log["previous_state_exit_condition_description"]) for log in transition_logs
               if log.get("previous_state_exit_condition_description")]
    return list(dict.fromkeys([*earlier, entered_by]))


@dataclass
class _Seen:
    """An action state's decision inputs: the user's latest message, the options' texts and the exits' ranking."""

    said: str
    exit_texts: list[str]
    action_texts: list[str]
    ranking: Ranking


async def _seen(ctx: TurnContext, state: dict[str, Any], actions: list[str], exits: list[dict[str, Any]],
                entered_by: str | None) -> _Seen:
    said = latest_input(ctx.request)
    exit_texts = _unique_texts([str(e.get("description", "")) for e in exits])
    taken = exits_taken(ctx.transition_logs, entered_by)
    ranking = (await ranking_for(ctx.ports.embedder, str(state.get("name")), said, exit_texts, taken)
               if exits else Ranking([], None, None))
    return _Seen(said, exit_texts, _unique_texts(actions), ranking)


async def _decide_framed(ctx: TurnContext, head: Callable[[], list[str]], tail: list[str], schema: dict[str, Any],
                         rounds: ToolRounds | None) -> Any:
    """A ``SelectNextAction`` with the conversation in the middle and ``tail`` (the choice) last."""
    return await _decide(
        ctx, "SelectNextAction",
        lambda extra: framed_decision_messages(ctx.request.agent, head(), ctx.request.transcript, tail + extra),
        schema, "select_next_action", rounds,
    )


async def _brief_action(
    ctx: TurnContext, state: dict[str, Any], actions: list[str], exits: list[dict[str, Any]],
    head: Callable[[], list[str]], rounds: ToolRounds | None, entered_by: str | None,
) -> tuple[str, int]:
    seen = await _seen(ctx, state, actions, exits, entered_by)
    said, exit_texts, action_texts, ranking = seen.said, seen.exit_texts, seen.action_texts, seen.ranking
    order = ranking.order
    tail = _intro(said, entered_by)
    properties: dict[str, Any] = {}
    answer = []
    if exits:
        tail += bullet("Exit conditions (leave this state only if one is clearly met by the conversation)",
                       [exit_texts[j] for j in order])
        properties["user_just_said"] = {"type": "string", "maxLength": SAID_MAX}
        # STAY leads the enum (a schema's first value is what scripted fakes answer: they stay); the prompt lists
        # the exits closest first and names STAY after them
        properties["exit_condition_met"] = {"type": "string", "enum": [STAY, *(exit_texts[j] for j in order)]}
        answer += ['"user_just_said": what the user just said, in a few plain words',
                   f'"exit_condition_met": the exit condition the conversation now clearly meets, copied exactly, '
                   f'or "{STAY}"']
    tail, schema = closing_answer(tail, properties, answer, action_texts, "if you stay")
    raw = await _decide_framed(ctx, head, tail, schema, rounds)
    return _checked(resolve_brief(raw, actions, exits), ranking, raw, actions, action_texts)


async def _contrast_action(
    ctx: TurnContext, state: dict[str, Any], actions: list[str], exits: list[dict[str, Any]],
    head: Callable[[], list[str]], rounds: ToolRounds | None, entered_by: str | None,
) -> tuple[str, int]:
    """One pick that DESCRIBES what the user just said: a concrete alternative (``OTHER``: a question, a hesitation, a
    refusal, something else) instead of an abstract "stay", or the exit condition closest to the message
    (``shown_exits``; every exit, in the seeded order, without an embedder). A bare greeting is offered no exit, only
    the two stays (``engine/greeting.py``), and with one action and no tools it makes no call at all."""
    said = latest_input(ctx.request)
    greeting = is_bare_greeting(said, agent_name(ctx.request.agent)) and not speaks_of_greeting(
        [str(e.get("description", "")) for e in exits])
    if greeting and len(actions) <= 1 and not rounds:
        return "action", 0  # nothing a greeting can meet, one action: no call to make
    seen = await _seen(ctx, state, actions, exits, entered_by)
    exit_texts, action_texts, ranking = seen.exit_texts, seen.action_texts, seen.ranking
    tail, schema, shown = contrast_tail(_intro(seen.said, entered_by), exit_texts, ranking, action_texts,
                                        offer_exits=not greeting)
    raw = await _decide_framed(ctx, head, tail, schema, rounds)
    if not isinstance(raw, dict) or DID_KEY not in raw:  # a brief or labelled answer
        return _checked(resolve_brief(raw, actions, exits), ranking, raw, actions, action_texts)
    index = match_option(str(raw.get(DID_KEY) or ""), exit_texts)
    if index is not None and index in shown and ranking.allows(index) and (
            not ctx.ports.exit_checks or await exit_holds(ctx, seen.said, exit_texts[index])):
        return "exit", index
    return _stay(raw, actions, action_texts)


async def _checklist_action(
    ctx: TurnContext, state: dict[str, Any], actions: list[str], exits: list[dict[str, Any]],
    head: Callable[[], list[str]], rounds: ToolRounds | None, entered_by: str | None,
) -> tuple[str, int]:
    seen = await _seen(ctx, state, actions, exits, entered_by)
    action_texts, ranking = seen.action_texts, seen.ranking
    tail, schema, by_exit = checklist_tail(_intro(seen.said, entered_by), seen.exit_texts, ranking.order,
                                           action_texts)
    raw = await _decide_framed(ctx, head, tail, schema, rounds)
    met = met_exits(raw, by_exit)
    if met is None:  # a brief or labelled answer (scripted tests, a model ignoring the schema)
        return _checked(resolve_brief(raw, actions, exits), ranking, raw, actions, action_texts)
    met = [j for j in met if ranking.allows(j)]
    if met:
        return "exit", ranking.best(met)
    if len(actions) <= 1:
        return "action", 0
    index = match_option(str(raw.get("action") or ""), action_texts)
    if index is None:
        return resolve_choice({"next": str(raw.get("action") or "")}, actions, exits)
    return "action", index


def _asker(ctx: TurnContext, interaction: str, head: list[str]):  # noqa: ANN202
    async def ask(tail: list[str], schema: dict[str, Any], name: str) -> Any:
        messages = framed_decision_messages(ctx.request.agent, head, ctx.request.transcript, tail)
        return await ctx.llm.decide(ctx.llm.request(interaction, messages), schema, name)
    return ask


def _intro(said: str, entered_by: str | None) -> list[str]:
    return [f"## What the user just said\n{said or '(nothing yet: the conversation is starting)'}", "",
            *_entered_note(entered_by)]


async def _checks_action(
    ctx: TurnContext, state: dict[str, Any], actions: list[str], exits: list[dict[str, Any]], head: list[str],
    entered_by: str | None,
) -> tuple[str, int]:
    seen = await _seen(ctx, state, actions, exits, entered_by)
    action_texts, ranking = seen.action_texts, seen.ranking
    met, action = await check_exits(_asker(ctx, "SelectNextAction", head), _intro(seen.said, entered_by),
                                    seen.exit_texts, ranking, action_texts)
    met = [j for j in met if ranking.allows(j)]
    if met:
        return "exit", ranking.best(met)
    return _stay({"action": action or ""}, actions, action_texts)


async def select_decision_exit(ctx: TurnContext, state: dict[str, Any], rounds: ToolRounds | None = None) -> int:
    exits = list(state.get("exit_conditions") or [])
    if not exits:
        raise EngineError(f"Decision state {state.get('name')!r} has no exit conditions.")
    if len(exits) == 1:
        return 0

    def head() -> list[str]:
        lines = ["You are silently routing a structured conversation. Do not write a reply to the user."]
        lines += [f"## Decision: {state.get('name')}", f"Objective: {state.get('objective', '')}"]
        lines += bullet("Decision guidelines", list(state.get("decision_guidelines") or []) + ctx.effect.instructions)
        return lines + memory_context(ctx.working_memory, ctx.reflections, ctx.request.user_model)

    said = latest_input(ctx.request)
    texts = _unique_texts([str(e.get("description", "")) for e in exits])
    if ctx.ports.reasoning == "checks" and not rounds:
        ranking = await ranking_for(ctx.ports.embedder, str(state.get("name")), said, texts)
        met, _ = await check_exits(_asker(ctx, "SelectNextActionForDecisionState", head()), _intro(said, None),
                                   texts, ranking, [], decision=True)
        return ranking.best(met) if met else ranking.order[0]  # a decision state always leaves: the closest
    if ctx.ports.reasoning == "contrast" and not rounds:
        return await contrast_decision_exit(ctx, state, head(), texts, said)
    if ctx.ports.reasoning != "none":  # brief (and checklist, and checks with tools)
        order = exit_order(exits, f"{state.get('name')}|{said}")
        tail, schema = exit_question(said, [texts[j] for j in order], facts_max=SAID_MAX)
        raw = await _decide(
            ctx, "SelectNextActionForDecisionState",
            lambda extra: framed_decision_messages(ctx.request.agent, head(), ctx.request.transcript, tail + extra),
            schema, "select_next_state_for_decision_state", rounds,
        )
        if isinstance(raw, dict) and "exit_condition" in raw:
            index = match_option(str(raw.get("exit_condition") or ""), texts)
            if index is not None:
                return index
            raw = {"next": str(raw.get("exit_condition") or "")}
        return resolve_choice(raw, [], exits)[1]
    options = options_for([], exits)

    def task() -> list[str]:
        return head() + bullet("Exit conditions", options) + [
            "", "Pick the exit condition that best matches the conversation. Answer with its label, such as \"exit 1\"."]

    raw = await _decide(
        ctx, "SelectNextActionForDecisionState",
        lambda extra: decision_messages(ctx.request.agent, task() + extra, ctx.request.transcript),
        choice_schema(options), "select_next_state_for_decision_state", rounds,
    )
    return resolve_choice(raw, [], exits)[1]
