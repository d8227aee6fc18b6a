"""Active memory: decide whether the turn needs the user's long-term memories, query them, keep the answers as the
turn's working memory. A user without memories (``MemoryRetriever.has_any() is False``) costs no LLM call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tertulia.engine.contract import EngineError
from tertulia.engine.prompts import decision_messages

if TYPE_CHECKING:
    from tertulia.engine.context import TurnContext

MEMORY_CHECK_SCHEMA = {
    "type": "object",
    "properties": {"queries": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
    "required": ["queries"],
    "additionalProperties": False,
}
NO_ANSWER = "No relevant memory found."
HITS_PER_QUERY = 3


@dataclass
class MemoryOutcome:
    skipped: bool = True
    queries: list[str] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)


async def has_memories(ctx: TurnContext) -> bool:
    probe = getattr(ctx.ports.memories, "has_any", None)
    if probe is None:
        return True
    try:
        return bool(await probe())
    except Exception as exc:  # noqa: BLE001
        raise EngineError(f"The memory store failed: {exc}", 502) from exc


async def active_memory(ctx: TurnContext, skip: bool) -> MemoryOutcome:
    """Step 2 of the pipeline (events are emitted by the caller, in spec order)."""
    if skip:
        return MemoryOutcome(skipped=True)
    if not await has_memories(ctx):
        return MemoryOutcome(skipped=False)
    task = [
        "Decide whether answering the user's latest input needs facts about the user beyond what you already know "
        "(the user model below). If it does, write up to 3 short search queries over the user's memories; "
        "otherwise return an empty list. Do not write a reply to the user.",
        "## What you know about the user",
        *[f"- {m}" for m in ctx.request.user_model],
    ]
    request = ctx.llm.request("CheckIfActiveMemoryNeeded", decision_messages(ctx.request.agent, task, ctx.request.transcript))
    raw = await ctx.llm.decide(request, MEMORY_CHECK_SCHEMA, "check_if_active_memory_needed")
    queries = [str(q).strip() for q in (raw.get("queries") or []) if str(q).strip()][:3]
    answers = await answer_queries(ctx, queries, context_prefix="Active memory")
    return MemoryOutcome(skipped=False, queries=queries, answers=answers)


async def answer_queries(ctx: TurnContext, queries: list[str], context_prefix: str) -> list[tuple[str, str]]:
    """Answer each query from the memory index (concurrently); hits go to working memory."""
    if not queries:
        return []

    async def one(query: str):
        try:
            return await ctx.ports.memories.search(query, limit=HITS_PER_QUERY)
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"The memory store failed: {exc}", 502) from exc

    results = await asyncio.gather(*(one(q) for q in queries))
    answers = []
    for query, hits in zip(queries, results, strict=True):
        for hit in hits:
            ctx.remember(hit.content, hit.context or f"{context_prefix}: {query}")
        answers.append((query, " ".join(h.content for h in hits) if hits else NO_ANSWER))
    return answers
