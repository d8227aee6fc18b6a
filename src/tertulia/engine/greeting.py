"""A bare greeting: a message made only of salutation words ("Hello", "Hi there!", "Good morning, Maya").

A greeting says nothing an exit condition about the user's needs or details can be met by, yet a 1.5B model took an
exit on every bare greeting of the labelled set ("Hello" → "wants to book", "Hi there" → "the app is broken",
benchmarks/README.md, #17). So under the ``contrast`` depth a bare greeting is not offered any exit, unless an exit
itself speaks of greeting (a state whose exit is "The user says hello" keeps the model's pick). The test is lexical
and strict: every word must be a salutation or a filler that goes with one ("there", "again", "everyone", the
agent's own name), and at least one must be a salutation, so "Hello, this is an emergency" or "Hi, I'm Daniel" are
not greetings. The salutations cover English and a few common languages; anything else reaches the model as before.
"""

from __future__ import annotations

import re

SALUTATIONS = frozenset({
    "hi", "hello", "hey", "heya", "hiya", "howdy", "greetings", "yo", "hola", "bonjour", "bonsoir", "salut", "hallo",
    "servus", "moin", "ciao", "olá", "ola", "oi", "namaste",
})
# a time of day greets only after "good" (or its Spanish form): alone, "Evening." answers "which time suits you?"
PHRASES = re.compile(r"\b(good (morning|afternoon|evening|day)|buen[oa]s (d[ií]as|tardes|noches))\b", re.IGNORECASE)
FILLERS = frozenset({"there", "again", "all", "everyone", "everybody", "folks", "guys", "team", "dear", "oh", "um",
                     "uh", "and", "to", "you"})
GREETING_EXIT = re.compile(r"\b(greet\w*|hello|hi|salut\w*|says? hey)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def is_bare_greeting(text: str, agent_name: str | None = None) -> bool:
    """True when ``text`` holds only salutations and their fillers (and the agent's name), with one salutation at
    least. Digits or any other word make it a real message."""
    if not text or any(ch.isdigit() for ch in text) or len(text) > 80:
        return False
    words = [w.lower() for w in _WORD.findall(PHRASES.sub(" hello ", text))]
    names = {w.lower() for w in _WORD.findall(agent_name or "")}
    if not words or not any(w in SALUTATIONS for w in words):
        return False
    return all(w in SALUTATIONS or w in FILLERS or w in names for w in words)


def speaks_of_greeting(exit_texts: list[str]) -> bool:
    """True when an exit condition is itself about a greeting: then a greeting may meet it and the model decides."""
    return any(GREETING_EXIT.search(t) for t in exit_texts)


def agent_name(agent: dict) -> str | None:
    """The agent version's own name (``identity.name``), which a greeting may carry ("Hi Maya")."""
    identity = agent.get("identity") if isinstance(agent, dict) else None
    if not isinstance(identity, dict):
        return None
    return str(identity.get("name") or "") or None
