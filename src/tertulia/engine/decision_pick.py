"""A decision state's exit under the ``contrast`` depth: the exit named at once (no restatement before it), asked in
two orders when ``Ports.decision_orders`` is 2 (``engine/debias.py``).

Measured on the clinic's triage with Qwen2.5-Coder-1.5B (12 messages, ``evals/probe.py dec-*``): the ``brief``
restatement (``key_facts``) then the exit got 9 of 12 in the seeded order and 10 of 12 swapped; the restatement did
not steer the pick ("The toddler has a runny nose and a low fever, which could be life-threatening." then "not
urgent"). The exit named at once got 10 of 12 and 7 of 12 swapped: position decided. Named at once in both orders,
with the log-probabilities averaged: 12 of 12, in about half the output tokens of one restated answer.
"""

from __future__ import annotations

from typing import Any

from tertulia.engine.closeness import exit_order
from tertulia.engine.context import TurnContext
from tertulia.engine.debias import TOP_LOGPROBS, option_logprobs, pick_in_both_orders
from tertulia.engine.prompts import bullet, framed_decision_messages, match_option

KEY = "exit_condition"


def exit_question(said: str, listed: list[str], facts_max: int = 0) -> tuple[list[str], dict[str, Any]]:
    """The end of a decision state's prompt and its schema: what the user just said, the exits as ``listed``, and the
    answer: the exit by its text, after the key facts (at most ``facts_max`` characters) when ``facts_max``."""
    tail = [f"## What the user just said\n{said or '(nothing yet)'}", ""]
    tail += bullet("Exit conditions (exactly one applies)", listed)
    answer = [f'"{KEY}": the exit condition that best matches, copied exactly']
    properties: dict[str, Any] = {KEY: {"type": "string", "enum": listed}}
    if facts_max:
        answer.insert(0, '"key_facts": the facts of the conversation that decide this, in a few plain words')
        properties = {"key_facts": {"type": "string", "maxLength": facts_max}, **properties}
    tail += ["", "Answer in JSON: " + "; then ".join(answer) + "."]
    return tail, {"type": "object", "properties": properties, "required": list(properties),
                  "additionalProperties": False}


async def contrast_decision_exit(ctx: TurnContext, state: dict[str, Any], head: list[str], texts: list[str],
                                 said: str) -> int:
    """The index (into ``texts``) of the exit to take (the first listed when no answer named one: a decision state
    always leaves)."""
    order = exit_order([{}] * len(texts), f"{state.get('name')}|{said}")
    orders = max(1, min(2, ctx.ports.decision_orders))

    async def ask(listing: list[int]) -> tuple[int | None, list[float] | None]:
        listed = [texts[j] for j in listing]
        tail, schema = exit_question(said, listed)
        request = ctx.llm.request("SelectNextActionForDecisionState",
                                  framed_decision_messages(ctx.request.agent, head, ctx.request.transcript, tail))
        request.top_logprobs = TOP_LOGPROBS if orders > 1 else 0
        raw = await ctx.llm.decide(request, schema, "select_next_state_for_decision_state")
        index = match_option(str(raw.get(KEY) or ""), texts) if isinstance(raw, dict) else None
        return index, option_logprobs(request.response.logprobs, KEY, listed)

    picked = (await ask(order))[0] if orders == 1 else await pick_in_both_orders(ask, order)
    return picked if picked is not None else order[0]
