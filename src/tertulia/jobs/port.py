"""The job queue port: how producers queue background work, and what a worker is to the runtime.

Every producer of background work (post-processing, webhook deliveries, blob purges, simulation runs, ...) calls
``enqueue(session, kind, payload, ...)`` here, inside the transaction of the change that causes the work. It goes
to the ``JobQueue`` the runtime attached to its database (``jobs/wiring.py`` binds ``runtime.jobs`` to the session
factory), so a process with another queue adapter gets the work; a database without an attached queue (a one-off
CLI command) writes to the jobs table directly.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tertulia.jobs.queue import enqueue_job

QUEUE_KEY = "tertulia.job_queue"


class JobQueue(Protocol):
    """``runtime.jobs``: producers enqueue inside their transaction; workers claim, heartbeat and settle jobs."""

    lease_seconds: float

    async def enqueue(self, session: AsyncSession, kind: str, payload: dict[str, Any], **options: Any) -> None: ...

    async def claim(self, worker_id: str, org_id: str | None = None, kinds: Collection[str] | None = None) -> Any: ...

    async def heartbeat(self, job: Any) -> bool: ...

    async def complete(self, session: AsyncSession, job: Any) -> None: ...

    async def retry_or_fail(self, job: Any, error: str, delay_seconds: float) -> str: ...

    def notify(self) -> None: ...

    async def wait_for_work(self, timeout: float) -> None: ...


class JobWorker(Protocol):
    def stop(self) -> None: ...


def bind(sessions: async_sessionmaker, queue: JobQueue) -> None:
    """Route every ``enqueue`` made in a session of ``sessions`` to ``queue``."""
    sessions.configure(info={QUEUE_KEY: queue})


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    org_id: str | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 5,
    delay_seconds: float = 0.0,
) -> None:
    """Queue a job in the caller's transaction (no commit); a ``dedupe_key`` already present is a no-op."""
    options = {"org_id": org_id, "dedupe_key": dedupe_key, "max_attempts": max_attempts, "delay_seconds": delay_seconds}
    queue: JobQueue | None = session.info.get(QUEUE_KEY)
    if queue is not None:
        await queue.enqueue(session, kind, payload, **options)
        return
    await enqueue_job(session, kind, payload, **options)  # the SQL queue's own insert: no runtime attached
