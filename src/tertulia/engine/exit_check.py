"""The exit check under ``contrast``: an action state's exit, once picked, is checked by a yes/no question about that
exit alone, and dropped (the state stays) only when the model is confident it does not hold.

Why: the contrast pick offers the exit closest to the message, and a 1.5B model takes it for an answer to the state's
own question that does not meet it ("An iPhone 14 with version 3.2.1." for "The customer says the problem is
fixed.", "I don't have the number handy, sorry." for "has given an order number"): the pick describes the message,
so the closest description wins. Asked instead whether that one statement is true of what the user just said, the
same model says no to those (``evals/probe.py verify``, ``benchmarks/README.md``, "Decision quality"). Its plain
yes/no is too harsh ("Hi, I'm Daniel Okafor." against "has given their full name" came out "no" by a hair), so the
exit is dropped only when P(no) is at least ``VETO_NO`` on the answer's token log-probabilities, and never without
them (a provider that gives none keeps the pick). A stay costs no check; an exit costs one more short call, after
the pick (a plain action-state turn keeps its two sequential calls).
"""

from __future__ import annotations

import math

from tertulia.engine.context import TurnContext
from tertulia.engine.debias import option_logprobs
from tertulia.engine.prompts import framed_decision_messages

KEY = "answer"
YES, NO = "yes", "no"
VETO_NO = 0.6  # P(no) from which a picked exit is dropped: log P(yes) - log P(no) below log(0.4 / 0.6)
TOP_LOGPROBS = 5
SCHEMA = {"type": "object", "properties": {KEY: {"type": "string", "enum": [YES, NO]}}, "required": [KEY],
          "additionalProperties": False}


def check_tail(said: str, statement: str) -> list[str]:
    """The end of the check's prompt: what the user just said, the exit as a statement, the question."""
    return [f"## What the user just said\n{said or '(nothing yet)'}", "", "## Statement", statement, "",
            f'Is this statement true of what the user just said? Answer in JSON: "{KEY}": "{YES}" or "{NO}".']


def vetoed(scores: list[float] | None) -> bool:
    """True when log P(yes), log P(no) say "no" with at least ``VETO_NO``'s confidence."""
    return scores is not None and scores[0] - scores[1] < math.log((1 - VETO_NO) / VETO_NO)


async def exit_holds(ctx: TurnContext, said: str, statement: str) -> bool:
    """False when the model is confident the picked exit ``statement`` is not true of what the user just said."""
    head = ["You are checking one statement about a conversation. Do not write a reply to the user."]
    request = ctx.llm.request("SelectNextAction", framed_decision_messages(
        ctx.request.agent, head, ctx.request.transcript, check_tail(said, statement)))
    request.top_logprobs = TOP_LOGPROBS
    await ctx.llm.decide(request, SCHEMA, "check_exit")
    tokens = request.response.logprobs
    return not vetoed(option_logprobs(tokens, KEY, [YES, NO]) if tokens else None)
