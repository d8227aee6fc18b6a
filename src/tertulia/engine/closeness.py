"""How close each option's text is to what the user just said (cosine of the ``Embedder`` port's vectors).

Navigation with a small model uses it twice (measured in ``benchmarks/README.md``):

* **order**: exit conditions are listed closest first. On the labelled set the packaged MiniLM puts the right exit
  first for 56 of the 60 turns that leave their state, while a 1.5B model picks by position far more than by meaning;
  listing the likely exit first lets the model confirm it or overrule it.
* **second transition**: a state entered earlier in the same turn is left again only by an exit that some part of
  the user's message (the whole of it, or one of its clauses) is closest to, and clearly closer to than to the exit
  that brought the turn there: the message has to be about the new exit, not the old one. A message that does two
  things ("I want a membership. Priya Nair, priya@nair.org.") usually does them in different clauses, and the whole
  message's vector averages them, so each clause is judged on its own too (``segments``).

Option vectors are cached per embedder (graph texts repeat on every turn); a failing embedder yields ``None`` and the
caller falls back to its seeded order.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

# A second exit in one turn needs to lead the exit that led into its state by SECOND_HOP_MARGIN and to reach
# SECOND_HOP_FLOOR itself, in the whole message or in one of its clauses (MiniLM cosines on the labelled set: the two
# legitimate second transitions lead by 0.23 and 0.40 at 0.32 and 0.53; spurious ones led by 0.11 or less, or sat
# near 0.1 on a bare "Hello"). Set on that set; the clauses were added in session 18 (benchmarks/README.md).
SECOND_HOP_MARGIN = 0.15
SECOND_HOP_FLOOR = 0.30
# a clause ends after . ! ? , ; or their CJK forms followed by space (or directly, for the CJK forms)
_CLAUSE_END = re.compile(r"(?<=[.!?,;])\s+|(?<=[。！？，；])\s*")
MAX_SEGMENTS = 8  # a long message is judged on its first clauses (bounded embedding work)

class VectorCache:
    """Vectors remembered per embedder instance (weakly keyed: a replaced embedder takes its vectors with it), each a
    bounded LRU. An embedder's vector for a given input never changes, so nothing needs invalidating."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._store: weakref.WeakKeyDictionary[Any, OrderedDict[Any, np.ndarray]] = weakref.WeakKeyDictionary()

    def of(self, embedder: Any) -> OrderedDict[Any, np.ndarray]:
        try:
            return self._store.setdefault(embedder, OrderedDict())
        except TypeError:  # not weak-referenceable: no caching across turns
            return OrderedDict()

    def put(self, cache: OrderedDict[Any, np.ndarray], key: Any, value: np.ndarray) -> None:
        cache[key] = value
        while len(cache) > self.limit:
            cache.popitem(last=False)


def normalise_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


_TEXTS = VectorCache(4096)


async def similarities(embedder: Any, said: str, texts: list[str]) -> list[float] | None:
    """Cosine of ``said`` to each of ``texts``; None when there is nothing to compare or the embedder fails. The
    message is cached like the options: a turn's speculative decision, a redone one and the next state's all reuse
    its vector."""
    if not said.strip() or not texts or embedder is None:
        return None
    cache = await _vectors(embedder, [said, *texts])
    if cache is None:
        return None
    query = cache[said]
    return [float(cache[t] @ query) for t in texts]


async def _vectors(embedder: Any, texts: list[str]) -> OrderedDict[Any, np.ndarray] | None:
    """The embedder's cache with every one of ``texts`` in it (the missing ones embedded in one call); None when the
    embedder fails."""
    cache = _TEXTS.of(embedder)
    missing = list(dict.fromkeys(t for t in texts if t not in cache))
    if missing:
        try:
            vectors = np.asarray(await embedder.embed(missing), dtype=np.float32)
        except Exception:  # noqa: BLE001 - ordering is an aid, never a reason to fail the turn
            return None
        for text, v in zip(missing, normalise_rows(vectors), strict=True):
            _TEXTS.put(cache, text, v)
    return cache


def closest_first(sims: list[float]) -> list[int]:
    """Indices by decreasing similarity (the author's order on ties)."""
    return sorted(range(len(sims)), key=lambda j: (-sims[j], j))


def exit_order(exits: list[dict[str, Any]], seed: str) -> list[int]:
    """The exits' indices in an order fixed by ``seed`` (the turn's text and state), not by the author."""
    return sorted(range(len(exits)), key=lambda j: hashlib.sha256(f"{seed}|{j}".encode()).digest())


def segments(said: str) -> list[str]:
    """The message's clauses (split after . ! ? , ;), when it has more than one; at most ``MAX_SEGMENTS``."""
    parts = [p.strip() for p in _CLAUSE_END.split(said.strip()) if any(ch.isalnum() for ch in p)]
    return parts[:MAX_SEGMENTS] if len(parts) > 1 else []


def hop_leader(sims: list[float], entered: float) -> int | None:
    """The exit a part of the message is about, if it is clearly about that exit and not the one that led here."""
    j = closest_first(sims)[0]
    return j if sims[j] - entered >= SECOND_HOP_MARGIN and sims[j] >= SECOND_HOP_FLOOR else None


class Ranking:
    """The exits of an action state as this turn sees them: listing order and closeness to the user's message.
    ``hops``: for a state entered this turn, the exits a second transition may take (``allows``); by default those
    the whole message leads to (``ranking_for`` adds its clauses')."""

    def __init__(self, order: list[int], sims: list[float] | None, entered: float | None,
                 hops: set[int] | None = None) -> None:
        self.order, self.sims, self.entered = order, sims, entered
        if hops is None and sims is not None and entered is not None:
            hops = {j for j in [hop_leader(sims, entered)] if j is not None}
        self.hops = hops

    def allows(self, j: int) -> bool:
        """The second-transition check: a state entered this turn is left again only by an exit that the user's
        message, or one of its clauses, is closest to and clearly closer to than to the exit that led here."""
        if self.sims is None or self.entered is None or self.hops is None:
            return True
        return j in self.hops

    def best(self, met: list[int]) -> int:
        return met[0] if self.sims is None else max(met, key=lambda j: (self.sims[j], -j))


async def ranking_for(embedder: Any, state_name: str, said: str, exit_texts: list[str],
                      taken: Sequence[str] = ()) -> Ranking:
    """``taken``: the exits already taken this turn (empty for the turn's first decision). A part of the message that
    leads to an exit of this state has to be clearly closer to it than to every one of them: the clause that took the
    first exit ("I want a membership.") cannot take a third."""
    n = len(exit_texts)
    sims = await similarities(embedder, said, [*exit_texts, *taken])
    if sims is None:
        return Ranking(exit_order([{}] * n, f"{state_name}|{said}"), None, None)
    own = sims[:n]
    if not taken:
        return Ranking(closest_first(own), own, None)
    ranking = Ranking(closest_first(own), own, max(sims[n:]))
    clauses = segments(said)
    if clauses:
        await _vectors(embedder, clauses)  # one call for all of them
    for clause in clauses:  # a second transition may be what one clause of the message is about
        part = await similarities(embedder, clause, [*exit_texts, *taken])
        leader = hop_leader(part[:n], max(part[n:])) if part is not None else None
        if leader is not None and ranking.hops is not None:
            ranking.hops.add(leader)
    return ranking
