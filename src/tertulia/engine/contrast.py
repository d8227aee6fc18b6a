"""The ``contrast`` decision depth for action states (small local models): what its pick offers and how it is asked.

ONE constrained pick that describes what the user just said (``DID_KEY``): a concrete alternative (``OTHER``: a
question, a hesitation, a refusal, something else) instead of an abstract "stay", or the exit condition closest to
the message (``shown_exits``). The alternative leads, in the prompt and the schema: listed last, a 1.5B model took the
exit before it on "Hello?" or a question (measured, ``benchmarks/README.md``), and scripted fakes answer a schema's
first value, so they stay. ``decisions._contrast_action`` asks it and reads the answer (an alternative → stay and
perform the ``action`` named by its text).

The bare greeting (``GREETING``) is a second stay offered only to a message that is one (``engine/greeting.py`` finds
those before the model is asked, and offers them no exit): it describes the message truthfully there. Offered beside
an exit to any other message, it was a magnet: "Around 8pm would be great." and "That's all, bye." picked "only says
hello" (session 14: dropping it there fixed 3 decisions of the 66 it changed on the development graphs and broke 1).
"""

from __future__ import annotations

from typing import Any

from tertulia.engine.closeness import Ranking
from tertulia.engine.prompts import bullet, closing_answer

# The pick offers only the exit closest to the message (MiniLM ranks the right one first on 56 of the 60 labelled
# turns that leave their state; on Qwen2.5-Coder-1.5B 71.6 % → 75.7 % per decision, benchmarks/README.md)
CONTRAST_EXITS = 1
OTHER = "The user has done none of these: they ask a question, hesitate, refuse, or say something else."
# the second stay of a bare greeting (once offered to every message: 72 % → 79 % per decision on a 69-turn subset,
# before bare greetings were found without the model)
GREETING = "The user only says hello and nothing else."
DID_KEY = "what_the_user_did"


def shown_exits(ranking: Ranking) -> list[int]:
    """The exits the contrast pick offers: the ``CONTRAST_EXITS`` closest to the message when closeness is known, else
    every exit in the seeded order (without an embedder there is nothing to rank by)."""
    return ranking.order[:CONTRAST_EXITS] if ranking.sims is not None else list(ranking.order)


def contrast_tail(intro: list[str], exit_texts: list[str], ranking: Ranking, action_texts: list[str],
                  offer_exits: bool = True) -> tuple[list[str], dict[str, Any], list[int]]:
    """The end of the prompt after ``intro``, its schema, and the exits it offers (indexes into ``exit_texts``).
    ``offer_exits=False`` (a bare greeting, ``engine/greeting.py``): only the stays, to pick the action by."""
    stays = [OTHER] if offer_exits else [OTHER, GREETING]
    shown = shown_exits(ranking) if offer_exits else []
    choices = [*stays, *(exit_texts[j] for j in shown)]
    tail = intro + bullet("Which of these describes what the user just said?", choices)
    properties: dict[str, Any] = {DID_KEY: {"type": "string", "enum": choices}}
    answer = [f'"{DID_KEY}": the one that describes what the user just said, copied exactly']
    tail, schema = closing_answer(tail, properties, answer, action_texts, "if the user has done none of these")
    return tail, schema, shown
