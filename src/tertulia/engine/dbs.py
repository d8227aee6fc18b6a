"""Dynamic behavior selection: embed the recent context, rank behaviors by their triggers' cosine similarity, let the
LLM confirm one of the top candidates (or none), keep the previous behavior while it stays relevant.

* Context vector = normalise(0.7 · latest user/external input + 0.3 · recent history): the new input dominates, so a
  topic pivot moves the ranking at once, while history keeps a running theme alive.
* Trigger embeddings are cached in-process per ``(embedder, set_id, version)``: a version's triggers never change, so
  they are embedded once per process.
* No behaviors → no embedding, no LLM call. No candidate above ``CANDIDATE_THRESHOLD`` (and no relevant previous
  behavior) → none, no LLM call. The only option being the previous behavior → kept without an LLM call.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tertulia.engine.contract import BehaviorVersion, EngineError
from tertulia.engine.prompts import decision_messages

if TYPE_CHECKING:
    from tertulia.engine.context import TurnContext

CANDIDATE_THRESHOLD = 0.30  # best-trigger cosine a behavior needs to be considered
KEEP_THRESHOLD = 0.15  # the previous behavior stays a candidate while it scores at least this
TOP_K = 3
USER_WEIGHT, HISTORY_WEIGHT = 0.7, 0.3
HISTORY_MESSAGES = 6
NONE_OPTION = "none"

_CACHE: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[str, int], np.ndarray]] = weakref.WeakKeyDictionary()
_CACHE_LIMIT = 2048


@dataclass
class Selection:
    selected: BehaviorVersion | None = None
    scores: list[tuple[BehaviorVersion, float]] = field(default_factory=list)
    embedded: bool = False


def _cache_for(embedder: Any) -> OrderedDict[tuple[str, int], np.ndarray]:
    try:
        return _CACHE.setdefault(embedder, OrderedDict())
    except TypeError:  # not weak-referenceable: no caching across turns
        return OrderedDict()


def context_texts(ctx: TurnContext) -> tuple[str, str]:
    transcript = ctx.request.transcript
    new_ids = set(ctx.request.new_message_ids)
    latest = [m.text for m in transcript if m.id in new_ids]
    if not latest:
        latest = [m.text for m in transcript[-2:] if m.message_type in ("user-message", "external-event")][-1:]
    history = [m.text for m in transcript[-HISTORY_MESSAGES:] if m.message_type != "agent-inner-thought"]
    return " ".join(latest), " ".join(history)


async def rank(ctx: TurnContext) -> Selection:
    behaviors = [b for b in ctx.request.behaviors if b.conversation_triggers]
    if not behaviors:
        return Selection()
    latest, history = context_texts(ctx)
    if not (latest or history):
        return Selection(embedded=False)
    cache = _cache_for(ctx.ports.embedder)
    missing = [b for b in behaviors if (b.set_id, b.version) not in cache]
    texts = [latest or history, history or latest] + [t for b in missing for t in b.conversation_triggers]
    try:
        vectors = np.asarray(await ctx.ports.embedder.embed(texts), dtype=np.float32)
    except Exception as exc:  # noqa: BLE001
        raise EngineError(f"The embedding model failed: {exc}", 502) from exc
    offset = 2
    for b in missing:
        n = len(b.conversation_triggers)
        cache[(b.set_id, b.version)] = _normalise_rows(vectors[offset : offset + n])
        offset += n
        while len(cache) > _CACHE_LIMIT:
            cache.popitem(last=False)
    query = _normalise_rows((USER_WEIGHT * vectors[0] + HISTORY_WEIGHT * vectors[1])[None, :])[0]
    scores = []
    for b in behaviors:
        matrix = cache[(b.set_id, b.version)]
        cache.move_to_end((b.set_id, b.version))
        scores.append((b, float(np.max(matrix @ query))))
    scores.sort(key=lambda item: -item[1])
    return Selection(scores=scores, embedded=True)


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


async def select(ctx: TurnContext, ranked: Selection) -> BehaviorVersion | None:
    """The LLM confirmation among the top candidates (skipped when there is nothing to judge)."""
    previous_key = ctx.request.previous_behavior
    candidates = [b for b, s in ranked.scores if s >= CANDIDATE_THRESHOLD][:TOP_K]
    previous = next(
        (b for b, s in ranked.scores if (b.set_id, b.version) == tuple(previous_key or ()) and s >= KEEP_THRESHOLD), None
    )
    if previous is not None and previous not in candidates:
        candidates.append(previous)
    if not candidates:
        return None
    if candidates == [previous]:
        return previous
    labels = [f"behavior {i + 1}" for i in range(len(candidates))]
    lines = [
        "Decide which dynamic behavior, if any, truly applies to the conversation right now. Triggers are examples of "
        "situations where the behavior applies. Choose 'none' if no behavior fits. Do not write a reply to the user."
    ]
    for label, b in zip(labels, candidates, strict=True):
        current = " (currently active)" if b is previous else ""
        lines.append(f"## {label}{current}\nTriggers: " + "; ".join(b.conversation_triggers))
        lines += [f"Does: {a.get('instruction')}" for a in b.actions if a.get("type") == "inject-instruction"]
    lines += ["## What you know about the user", *[f"- {m}" for m in ctx.request.user_model]]
    schema = {
        "type": "object",
        "properties": {"behavior": {"type": "string", "enum": [*labels, NONE_OPTION]}},
        "required": ["behavior"],
        "additionalProperties": False,
    }
    request = ctx.llm.request("SelectDynamicBehavior", decision_messages(ctx.request.agent, lines, ctx.request.transcript))
    raw = await ctx.llm.decide(request, schema, "select_dynamic_behavior")
    choice = str(raw.get("behavior", NONE_OPTION)).strip().lower()
    for label, b in zip(labels, candidates, strict=True):
        if choice == label or choice == b.set_id:
            return b
    return None


async def select_behavior(ctx: TurnContext) -> Selection:
    ranked = await rank(ctx)
    ranked.selected = await select(ctx, ranked) if ranked.scores else None
    return ranked


def speculated_behavior(ctx: TurnContext) -> BehaviorVersion | None:
    """The behavior assumed while DBS runs concurrently with navigation: the previous one, if still applied."""
    prev = ctx.request.previous_behavior
    if not prev:
        return None
    return next((b for b in ctx.request.behaviors if (b.set_id, b.version) == tuple(prev)), None)
