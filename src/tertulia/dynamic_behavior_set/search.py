"""Relevance ranking for ``search-dynamic-behavior-sets``.

A deliberately simple, dependency-free lexical score over a set's name and the conversation triggers of its latest
version: both texts are lower-cased and split into word tokens; the score is the fraction of distinct query tokens
found (a token also matches as a prefix of a longer word, so ``emerg`` finds ``emergency``), with name matches
weighted twice as much as trigger matches, plus a bonus when the whole query appears verbatim in the name or in a
trigger. Sets scoring 0 are not returned; ties keep the most recently updated first; at most 50 are returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_RESULTS = 50


def tokens(text: str) -> set[str]:
    return {t.lower() for t in TOKEN.findall(text)}


def _hit(token: str, words: set[str]) -> bool:
    return token in words or any(w.startswith(token) for w in words)


def relevance(query: str, name: str, triggers: Iterable[str]) -> float:
    wanted = tokens(query)
    if not wanted:
        return 0.0
    trigger_list = list(triggers)
    name_words = tokens(name)
    trigger_words = set().union(*(tokens(t) for t in trigger_list)) if trigger_list else set()
    name_score = sum(1 for t in wanted if _hit(t, name_words)) / len(wanted)
    trigger_score = sum(1 for t in wanted if _hit(t, trigger_words)) / len(wanted)
    phrase = query.strip().lower()
    bonus = 0.5 if phrase and (phrase in name.lower() or any(phrase in t.lower() for t in trigger_list)) else 0.0
    return 2 * name_score + trigger_score + bonus
