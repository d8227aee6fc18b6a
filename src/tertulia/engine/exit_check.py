"""The exit check under ``contrast``: an action state's exit, once picked, is checked by a yes/no question about that
exit alone, and dropped (the state stays) only when the model is confident it does not hold.

Why: the contrast pick offers the exit closest to the message, and a 1.5B model takes it for an answer to the state's
own question that does not meet it ("An iPhone 14 with version 3.2.1." for "The customer says the problem is
fixed.", "I don't have the number handy, sorry." for "has given an order number"): the pick describes the message,
so the closest description wins. Asked instead whether that one statement is true of what the user just said, the
same model says no to those (``evals/probe.py verify``, ``benchmarks/README.md``, "Decision quality"). Its plain
yes/no is too harsh ("Hi, I'm Daniel Okafor." against "has given their full name" came out "no" by a hair), so the
exit is dropped only when P(no) is at least ``VETO_NO`` on the answer's token log-probabilities, and never without
them (a provider that gives none keeps the pick). The line was read off the labelled set (the wrong exits it drops
sit at P(no) 0.68-0.84, the right goodbyes "No, that's everything. Bye!" / "Nope, that's all" at 0.60-0.62 against
"needs nothing else"), then run on a graph kept out of that reading (``evals/graphs/heldout_*``), where it kept every
exit it was asked about. A stay costs no check; an exit costs one more short call, after the pick (a plain
action-state turn keeps its two sequential calls).

An exit written as a conjunction ("The patient has given both their name and a preferred day or time.") is checked
part by part, concurrently (``parts_of``), each part against the conversation so far (a part may have been given in
an earlier turn), and holds with the product of the parts' probabilities: asked whole, the model said yes to "My name
is Maria Lopez."; asked the day or time on its own, it leaned no.

A question asks; it does not give. An exit that says the user *has given* (said, chosen, named, confirmed ...)
something is met by a message that supplies it, and a message that is only a question without a figure in it
(``asks_only``) rarely does: on the development graphs the pick took "has given their employee ID" for "Where do I
find that?", "has chosen the monthly or the annual plan" for "What's the difference between them?" and "has said
which reservation to cancel" for "Which one do you mean?", and the check read P(yes) 0.37-0.71 for them, no lower than
for right exits. So such an exit is kept for such a message only when the check is sure, P(yes) at least
``QUESTION_YES`` (session 15: 6 wrong exits of the development graphs dropped, no right one; the rule is English-first
like ``engine/greeting.py``: an exit written otherwise keeps the ordinary line). A question that asks for the exit
("Can I reserve a table?" against "wants to reserve a table") is untouched.
"""

from __future__ import annotations

import asyncio
import math
import re

from tertulia.engine.context import TurnContext
from tertulia.engine.debias import TOP_LOGPROBS, option_logprobs
from tertulia.engine.prompts import framed_decision_messages

KEY = "answer"
YES, NO = "yes", "no"
VETO_NO = 2 / 3  # P(no) from which a picked exit is dropped: "no" twice as likely as "yes" (normalized over the two)
QUESTION_YES = 0.75  # P(yes) a "has given ..." exit needs when the message only asks (``asks_only``)
SCHEMA = {"type": "object", "properties": {KEY: {"type": "string", "enum": [YES, NO]}}, "required": [KEY],
          "additionalProperties": False}


_BOTH = re.compile(r"^(?P<subject>.+?) both (?P<first>.+?) and (?P<second>.+?)(?P<end>[.!]?)$")
SAID, CONVERSATION = "what the user just said", "the conversation so far"
CHECK_HEAD = "You are checking one statement about a conversation. Do not write a reply to the user."


_GIVES = re.compile(r"\b(?:has|have) (?:given|said|chosen|named|provided|told|picked|shared|stated|mentioned)\b"
                    r"|\bconfirms?\b", re.IGNORECASE)
_QUESTION_END = ("?", "\uff1f", "\u061f")  # ASCII, full-width and Arabic question marks


def asks_only(said: str) -> bool:
    """True when the message is a question with no figure in it: it asks for something, it gives nothing."""
    text = said.strip()
    return text.endswith(_QUESTION_END) and not any(ch.isdigit() for ch in text)


def veto_line(said: str, statement: str) -> float:
    """The P(no) from which the check drops ``statement``: ``VETO_NO``, or ``1 - QUESTION_YES`` for an exit that
    says the user has given something when the message only asks."""
    return 1.0 - QUESTION_YES if asks_only(said) and _GIVES.search(statement) else VETO_NO


def parts_of(statement: str) -> list[str]:
    """The statement's parts when it is written "<subject> both <A> and <B>", else the statement alone."""
    found = _BOTH.match(statement.strip())
    if found is None:
        return [statement]
    subject, end = found["subject"], found["end"] or "."
    return [f"{subject} {found['first']}{end}", f"{subject} {found['second']}{end}"]


def check_tail(said: str, statement: str, about: str = SAID) -> list[str]:
    """The end of the check's prompt: what the user just said, the exit as a statement, the question."""
    return [f"## What the user just said\n{said or '(nothing yet)'}", "", "## Statement", statement, "",
            f'Is this statement true of {about}? Answer in JSON: "{KEY}": "{YES}" or "{NO}".']


def p_yes(scores: list[float] | None) -> float | None:
    """P(yes) of a yes/no answer from log P(yes), log P(no) (normalized over the two), None without them."""
    return None if scores is None else 1.0 / (1.0 + math.exp(scores[1] - scores[0]))


def vetoed(probabilities: list[float | None], line: float = VETO_NO) -> bool:
    """True when the parts' probabilities (all known) make the statement false with at least ``line`` (P(no))."""
    if not probabilities or any(p is None for p in probabilities):
        return False
    return 1.0 - math.prod(p for p in probabilities if p is not None) >= line


async def exit_holds(ctx: TurnContext, said: str, statement: str) -> bool:
    """False when the model is confident the picked exit ``statement`` is not true of what the user just said (of
    the conversation so far, part by part, for a conjunction)."""
    head = [CHECK_HEAD]
    parts = parts_of(statement)
    about = SAID if len(parts) == 1 else CONVERSATION

    async def ask(part: str) -> float | None:
        request = ctx.llm.request("SelectNextAction", framed_decision_messages(
            ctx.request.agent, head, ctx.request.transcript, check_tail(said, part, about)))
        request.top_logprobs = TOP_LOGPROBS
        await ctx.llm.decide(request, SCHEMA, "check_exit")
        return p_yes(option_logprobs(request.response.logprobs, KEY, [YES, NO]))

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(ask(part)) for part in parts]
    return not vetoed([t.result() for t in tasks], veto_line(said, statement))
