"""The ``checks`` decision depth: every exit condition is checked in its OWN small request, all of them at once.

Why: a 1.5B model asked about several conditions in one answer lets the first one it reads decide the rest (on the
labelled set it answered "yes" to whichever condition came first). Asked about one condition at a time, it can only
judge that condition. The requests run concurrently, so a turn still waits for one decision step (a plain
action-state turn stays at 2 sequential LLM calls); they share every prompt token but the last lines, so a server
with prompt caching (llama.cpp) evaluates the shared part once.

* action state: one ``{"met": "no"|"yes"}`` request per exit condition, plus one ``{"action": ...}`` request when
  the state has several actions. No "yes" → stay and perform that action; several → the closest to what the user
  just said (``closeness.Ranking``); the second-transition check applies to every "yes".
* decision state: the same checks; of the "yes" exits the closest wins; none → the closest of all (a decision state
  always leaves).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tertulia.engine.closeness import Ranking

YES, NO = "yes", "no"
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"met": {"type": "string", "enum": [NO, YES]}},
    "required": ["met"],
    "additionalProperties": False,
}

Ask = Callable[[list[str], dict[str, Any], str], Awaitable[Any]]  # (tail lines, schema, schema name) -> answer


def check_tail(intro: list[str], condition: str, decision: bool) -> list[str]:
    what = "applies to" if decision else "is clearly met by"
    return [*intro, "## The condition to check", condition, "",
            f'Does this condition hold: is it {what} the conversation, above all by what the user just said? '
            'Answer in JSON: "met": "yes" or "no".']


def action_tail(intro: list[str], actions: list[str]) -> list[str]:
    return [*intro, "## Actions", *[f"- {a}" for a in actions], "",
            'Which of these actions fits the conversation best right now? Answer in JSON: "action": the action, '
            "copied exactly."]


def _yes(answer: Any) -> bool:
    value = answer.get("met") if isinstance(answer, dict) else answer
    return str(value or "").strip().strip('"').lower() == YES


async def gather_all(calls: list[Awaitable[Any]]) -> list[Any]:
    """Every call concurrently; the first failure cancels the rest and propagates."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def check_exits(ask: Ask, intro: list[str], exit_texts: list[str], ranking: Ranking, action_texts: list[str],
                      *, decision: bool = False) -> tuple[list[int], str | None]:
    """The exits answered "yes" (in ``ranking.order``) and, with several actions, the chosen action's text."""
    calls = [ask(check_tail(intro, exit_texts[j], decision), CHECK_SCHEMA,
                 "check_decision_exit" if decision else "check_exit_condition") for j in ranking.order]
    if len(action_texts) > 1:
        schema = {"type": "object", "properties": {"action": {"type": "string", "enum": action_texts}},
                  "required": ["action"], "additionalProperties": False}
        calls.append(ask(action_tail(intro, action_texts), schema, "select_action"))
    answers = await gather_all(calls)
    met = [j for j, a in zip(ranking.order, answers, strict=False) if _yes(a)]
    action = None
    if len(action_texts) > 1:
        last = answers[-1]
        action = str(last.get("action") or "") if isinstance(last, dict) else str(last or "")
    return met, action
