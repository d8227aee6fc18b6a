"""The ``checklist`` decision depth for action states: every exit condition is checked on its own, yes or no, inside
ONE constrained JSON answer (``{"A": "no", "B": "yes", "action": "..."}``), instead of one pick among all of them.

Why: a small local model asked to pick one of five conditions (or "stay") leans on position and on the first
plausible word; asked "is THIS condition met?" five times in a row it answers each on its merits (measured in
``benchmarks/README.md``). It stays one call: the checks ride in one schema (each costs its condition's tokens plus a yes/no).

Reading the answer: no "yes" → stay and perform an action; one "yes" → that exit; several → the one whose text is
closest to what the user just said (the caller ranks them, e.g. by embedding), the author's order breaking ties.
Exits are listed (and so checked) in the turn's seeded order, as in ``brief``.
"""

from __future__ import annotations

from typing import Any

from tertulia.engine.prompts import closing_answer

YES, NO = "yes", "no"
ACTION_KEY = "action"


def checklist_tail(intro: list[str], exit_texts: list[str], order: list[int],
                   action_texts: list[str]) -> tuple[list[str], dict[str, Any], list[str]]:
    """The prompt's last lines (after ``intro``: what the user just said), the schema and the answer key of each exit
    (by the exit's index).

    The keys are the conditions' own texts: the model writes a condition out, then answers it, so each yes/no sits
    right after the words it is about (opaque letters drew the same letter's "yes" whatever the conversation)."""
    by_exit = [t if t != ACTION_KEY else f"{t} (condition)" for t in exit_texts]
    tail = [*intro, "## Exit conditions to check, one by one", *[f"- {by_exit[j]}" for j in order]]
    properties: dict[str, Any] = {by_exit[j]: {"type": "string", "enum": [NO, YES]} for j in order}
    answer = ['each exit condition, copied exactly, with "yes" only if the conversation, and above all what the user '
              'just said, clearly meets that condition, otherwise "no"']
    tail, schema = closing_answer(tail, properties, answer, action_texts, "if no exit condition is met", spaced=True)
    return tail, schema, by_exit


def met_exits(raw: Any, by_exit: list[str]) -> list[int] | None:
    """Indices of the exits answered "yes" (author order); None when the answer is not a checklist at all."""
    if not isinstance(raw, dict):
        return None
    answers = {" ".join(str(k).split()).rstrip(".").lower(): v for k, v in raw.items()}
    keys = [" ".join(k.split()).rstrip(".").lower() for k in by_exit]
    if not any(k in answers for k in keys):
        return None
    return [j for j, k in enumerate(keys) if str(answers.get(k, NO)).strip().strip('"').lower() == YES]
