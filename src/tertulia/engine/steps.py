"""Running one engine step (a decision, a reflection, a tool call...) while its events stream out as they happen, and
the voice fillers of slow steps.

``run_step(work, step)`` runs ``work(emit)`` as a task: every ``emit(event)`` is yielded at once (a tool call inside a
decision shows up while the decision goes on), ``step.value`` holds the result, errors propagate, and closing the
generator cancels the work. ``with_filler(...)`` races an awaitable against the step's ``audio_filler_triggered_after``:
when the step outlasts it, ``action-too-long {filler, previously_started_event}`` is emitted once (the step is never
blocked or restarted); ``previously_started_event`` is the wire object of the event that started the step.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tertulia.engine import events as ev
from tertulia.engine.contract import AgentAction

T = TypeVar("T")
Emit = Callable[[AgentAction], None]


@dataclass
class Step:
    value: Any = None


async def run_step(work: Callable[[Emit], Awaitable[Any]], step: Step) -> AsyncIterator[AgentAction]:
    queue: asyncio.Queue[AgentAction | None] = asyncio.Queue()

    async def runner() -> None:
        try:
            step.value = await work(queue.put_nowait)
        finally:
            queue.put_nowait(None)

    task = asyncio.ensure_future(runner())
    try:
        while (event := await queue.get()) is not None:
            yield event
        await task  # re-raises the step's error
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except BaseException:  # noqa: BLE001 - abandoned work
                pass


def pick_filler(seed: str, fillers: list[str]) -> str:
    """One filler of the list; deterministic per seed (interaction + step) so retries and tests are reproducible."""
    return fillers[random.Random(seed).randrange(len(fillers))]


async def with_filler(
    awaitable: Awaitable[T], emit: Emit, started: AgentAction, fillers: Any, after: Any, seed: str
) -> T:
    """Await ``awaitable``; if it takes longer than ``after`` seconds and ``fillers`` is non-empty, emit one
    ``action-too-long`` meanwhile. Without fillers (or a positive delay) this is a plain await."""
    texts = [str(f) for f in (fillers or []) if str(f).strip()]
    try:
        delay = float(after or 0)
    except (TypeError, ValueError):
        delay = 0.0
    if not texts or delay <= 0:
        return await awaitable
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=delay)
        if not done:
            emit(ev.action_too_long(pick_filler(seed, texts), dict(started.action)))
        return await task
    finally:
        if not task.done():
            task.cancel()
