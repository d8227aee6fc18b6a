"""``MemoryRetriever`` over one user's ``UserMemory`` rows, for the engine's turn ports.

Ranks by cosine similarity of embeddings when both the query and the memory have one (same dimensionality),
otherwise by token overlap (Jaccard over lower-cased word tokens); a memory without an embedding still competes
through the overlap score.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import func, select

from tertulia.engine.ports import MemoryHit
from tertulia.user.models import UserMemory

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("a an and are as at be by for from i in is it me my of on or so that the to was we with you".split())


def tokens(text: str) -> set[str]:
    return {t for t in _TOKEN.findall(text.lower()) if t not in _STOP}


def overlap(query: set[str], text: str) -> float:
    other = tokens(text)
    if not query or not other:
        return 0.0
    return len(query & other) / len(query | other)


def cosine(a: list[float], b: list[float]) -> float:
    if not a or not b or len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


class UserMemoryStore:
    def __init__(self, sessions: Any, org_id: str, user_id: str, embedder: Any = None, *,
                 known_any: bool | None = None) -> None:
        """``known_any``: whether the user has memories, when the caller already read it (a turn reads it with its
        inputs); ``has_any`` then answers without a query."""
        self.sessions = sessions  # async_sessionmaker
        self.org_id = org_id
        self.user_id = user_id
        self.embedder = embedder
        self.known_any = known_any

    def _where(self) -> tuple:
        return (UserMemory.org_id == self.org_id, UserMemory.user_id == self.user_id)

    async def has_any(self) -> bool:
        if self.known_any is not None:
            return self.known_any
        async with self.sessions() as session:
            return bool(await session.scalar(select(func.count()).select_from(UserMemory).where(*self._where())))

    async def search(self, query: str, limit: int = 5) -> list[MemoryHit]:
        async with self.sessions() as session:
            rows = (await session.scalars(select(UserMemory).where(*self._where()))).all()
        if not rows or limit <= 0:
            return []
        query_vector: list[float] | None = None
        if self.embedder is not None and query.strip() and any(r.embedding for r in rows):
            try:
                query_vector = list((await self.embedder.embed([query]))[0])
            except Exception:  # noqa: BLE001 - embeddings are an optimisation; token overlap still answers
                query_vector = None
        query_tokens = tokens(query)
        scored = []
        for row in rows:
            text = f"{row.content} {row.context}"
            lexical = overlap(query_tokens, text)
            semantic = cosine(query_vector, row.embedding) if query_vector and row.embedding else None
            score = max(semantic, lexical) if semantic is not None else lexical
            scored.append((score, row.created_at, row))
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [MemoryHit(id=r.id, content=r.content, context=r.context, score=round(s, 6)) for s, _, r in scored[:limit]]
