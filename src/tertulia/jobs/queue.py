"""The job queue port and its SQL implementation (PostgreSQL and SQLite, same table).

Claiming is safe across processes:
* PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks one claimable row, then the same transaction stamps it.
* SQLite: one conditional ``UPDATE ... WHERE id = :candidate AND <still claimable>``; the database's single writer
  makes the check-and-set atomic, and ``rowcount == 1`` tells the winner.

Every later write (heartbeat, completion, retry) is conditioned on the claim token, so a worker that lost its
lease (it stalled past the expiry and somebody reclaimed the job) can no longer change the job or, when the
handler completes inside its own transaction (``complete``), commit its results.
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, event, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tertulia.core.clock import utcnow
from tertulia.core.db import Database
from tertulia.core.ids import new_object_id
from tertulia.jobs.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Job


class LeaseLost(Exception):
    """The job was reclaimed by another worker (or finished): this worker must not write its results."""


class JobQueuePort(Protocol):
    """What producers and workers need from a queue (``runtime.jobs``)."""

    async def enqueue(self, session: AsyncSession, kind: str, payload: dict[str, Any], **options: Any) -> None: ...

    async def claim(
        self, worker_id: str, org_id: str | None = None, kinds: Collection[str] | None = None
    ) -> Job | None: ...

    async def heartbeat(self, job: Job) -> bool: ...

    async def complete(self, session: AsyncSession, job: Job) -> None: ...

    async def retry_or_fail(self, job: Job, error: str, delay_seconds: float) -> str: ...


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Job.status == QUEUED, Job.run_after <= now),
        and_(Job.status == RUNNING, Job.lease_expires_at < now),
    )


_LOCAL_QUEUES: weakref.WeakSet = weakref.WeakSet()


async def enqueue_job(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    org_id: str | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 5,
    delay_seconds: float = 0.0,
) -> None:
    """Add a job in the caller's transaction (no commit). A ``dedupe_key`` already present is a no-op, so
    enqueuing the same logical job twice (a retried request, a re-run handler) queues it once."""
    from tertulia.observability.tracing import inject

    now = utcnow()
    values = {
        "trace_context": inject() or None,
        "id": new_object_id(),
        "org_id": org_id,
        "kind": kind,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": QUEUED,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": now + timedelta(seconds=delay_seconds),
        "created_at": now,
        "updated_at": now,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Job).values(**values)
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    await session.execute(stmt)
    session.info["tertulia_jobs_wake"] = True


class SqlJobQueue:
    """``runtime.jobs``: enqueue inside the caller's transaction; workers claim, heartbeat and settle jobs."""

    def __init__(self, db: Database, *, lease_seconds: float = 60.0) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self._wake = asyncio.Event()
        _LOCAL_QUEUES.add(self)

    async def enqueue(self, session: AsyncSession, kind: str, payload: dict[str, Any], **options: Any) -> None:
        """Add a job in the caller's transaction (no commit); see ``enqueue_job``."""
        await enqueue_job(session, kind, payload, **options)

    def notify(self) -> None:
        self._wake.set()

    async def wait_for_work(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            pass
        self._wake.clear()

    # -- workers -----------------------------------------------------------------------------------------------

    async def claim(
        self, worker_id: str, org_id: str | None = None, kinds: Collection[str] | None = None
    ) -> Job | None:
        """Claim the next runnable job (optionally only one organization's: test isolation, dedicated workers).

        ``kinds`` limits the claim to the job kinds this worker has handlers for, so in a mixed-version cluster (a
        rolling upgrade) an older process leaves a newer kind to the processes that can run it instead of failing it.
        """
        token = secrets.token_hex(16)
        now = utcnow()
        stamp = {
            "status": RUNNING,
            "claim_token": token,
            "worker_id": worker_id,
            "lease_expires_at": now + timedelta(seconds=self.lease_seconds),
            "attempts": Job.attempts + 1,
            "updated_at": now,
        }
        claimable = _claimable(now)
        if org_id is not None:
            claimable = and_(claimable, Job.org_id == org_id)
        if kinds is not None:
            claimable = and_(claimable, Job.kind.in_(sorted(kinds)))
        async with self.db.sessions() as session:
            if session.bind.dialect.name == "postgresql":
                job_id = await session.scalar(
                    select(Job.id).where(claimable).order_by(Job.run_after).limit(1).with_for_update(skip_locked=True)
                )
                if job_id is None:
                    await session.rollback()
                    return None
                await session.execute(update(Job).where(Job.id == job_id).values(**stamp))
            else:
                candidates = (
                    await session.scalars(select(Job.id).where(claimable).order_by(Job.run_after).limit(5))
                ).all()
                await session.rollback()  # end the read snapshot before writing
                job_id = None
                for candidate in candidates:
                    result = await session.execute(
                        update(Job).where(Job.id == candidate, _claimable(now)).values(**stamp)
                    )
                    if result.rowcount == 1:
                        job_id = candidate
                        break
                    await session.rollback()
                if job_id is None:
                    return None
            await session.commit()
            return await session.scalar(select(Job).where(Job.id == job_id, Job.claim_token == token))

    async def heartbeat(self, job: Job) -> bool:
        now = utcnow()
        async with self.db.sessions() as session:
            result = await session.execute(
                update(Job)
                .where(Job.id == job.id, Job.claim_token == job.claim_token, Job.status == RUNNING)
                .values(lease_expires_at=now + timedelta(seconds=self.lease_seconds), updated_at=now)
            )
            await session.commit()
            return result.rowcount == 1

    async def complete(self, session: AsyncSession, job: Job) -> None:
        """Mark the job succeeded in ``session``'s transaction; raises ``LeaseLost`` when it is no longer ours.

        Handlers call this FIRST in the transaction that writes their results (on SQLite the write also takes
        the database lock, so the reads that follow see the latest data), then commit once.
        """
        now = utcnow()
        result = await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.claim_token == job.claim_token, Job.status == RUNNING)
            .values(status=SUCCEEDED, finished_at=now, updated_at=now, lease_expires_at=None, last_error=None)
        )
        if result.rowcount != 1:
            raise LeaseLost(job.id)
        job.status = SUCCEEDED

    async def retry_or_fail(self, job: Job, error: str, delay_seconds: float) -> str:
        """Record a failed attempt: back to ``queued`` after ``delay_seconds``, or ``failed`` when out of attempts."""
        now = utcnow()
        status = FAILED if job.attempts >= job.max_attempts else QUEUED
        values: dict[str, Any] = {
            "status": status,
            "last_error": error[:4000],
            "lease_expires_at": None,
            "updated_at": now,
        }
        if status == FAILED:
            values["finished_at"] = now
        else:
            values["run_after"] = now + timedelta(seconds=delay_seconds)
        async with self.db.sessions() as session:
            await session.execute(
                update(Job).where(Job.id == job.id, Job.claim_token == job.claim_token).values(**values)
            )
            await session.commit()
        job.status = status
        return status

    # -- inspection --------------------------------------------------------------------------------------------

    async def list(self, *, status: str | None = None, kind: str | None = None, limit: int = 50) -> list[Job]:
        async with self.db.sessions() as session:
            stmt = select(Job).order_by(Job.created_at.desc()).limit(limit)
            if status:
                stmt = stmt.where(Job.status == status)
            if kind:
                stmt = stmt.where(Job.kind == kind)
            return list((await session.scalars(stmt)).all())

    async def counts(self) -> dict[str, int]:
        async with self.db.sessions() as session:
            rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
            return {status: n for status, n in rows.all()}




@event.listens_for(Session, "after_commit")
def _wake_workers(session: Session) -> None:
    """An in-process worker starts on a freshly committed job at once instead of at its next poll."""
    if session.info.pop("tertulia_jobs_wake", None):
        for queue in list(_LOCAL_QUEUES):
            queue.notify()


@event.listens_for(Session, "after_rollback")
def _forget_wake(session: Session) -> None:
    session.info.pop("tertulia_jobs_wake", None)
