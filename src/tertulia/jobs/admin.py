"""Organization-scoped job use cases for operators (the web console's Operations page).

Only jobs that carry the caller's ``org_id`` are visible or retryable; cluster-wide jobs (``org_id`` NULL: periodic
scans, a deleted organization's purge) belong to the deployment's operator and stay out of every organization's view.
Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.core.clock import utcnow
from tertulia.core.errors import Conflict, NotFound
from tertulia.core.paging import Page, fetch_page
from tertulia.jobs.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Job

STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED)


@dataclass
class JobView:
    id: str
    kind: str
    status: str
    attempts: int
    max_attempts: int
    last_error: str | None
    run_after: datetime
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(job.id, job.kind, job.status, job.attempts, job.max_attempts, job.last_error, job.run_after,
                   job.created_at, job.updated_at, job.finished_at)

    def wire(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {"id": self.id, "kind": self.kind, "status": self.status, "attempts": self.attempts,
                "max_attempts": self.max_attempts, "last_error": self.last_error, "run_after": iso(self.run_after),
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
                "finished_at": iso(self.finished_at)}


async def list_org_jobs(
    session: AsyncSession, org_id: str, *, status: str | None = None, kind: str | None = None,
    limit: int = 50, offset: int = 0,
) -> Page[JobView]:
    """The organization's jobs, newest first."""
    query = select(Job).where(Job.org_id == org_id).order_by(Job.created_at.desc(), Job.id.desc())
    if status:
        query = query.where(Job.status == status)
    if kind:
        query = query.where(Job.kind == kind)
    page = await fetch_page(session, query, limit, offset)
    return Page([JobView.of(j) for j in page.items], page.has_more, page.continuation_token)


async def count_org_jobs(session: AsyncSession, org_id: str) -> dict[str, int]:
    rows = await session.execute(select(Job.status, func.count()).where(Job.org_id == org_id).group_by(Job.status))
    counts = {status: 0 for status in STATUSES}
    counts.update({status: n for status, n in rows.all()})
    return counts


async def retry_failed_job(session: AsyncSession, org_id: str, job_id: str) -> JobView:
    """Queue a failed job again, due now, with a fresh allowance of attempts (its last error stays visible until it
    succeeds). 404 for another organization's or an unknown id; 409 unless the job is failed."""
    job = await session.scalar(select(Job).where(Job.org_id == org_id, Job.id == job_id))
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(Job.org_id == org_id, Job.id == job_id, Job.status == FAILED)
        .values(status=QUEUED, attempts=0, run_after=now, finished_at=None, claim_token=None, worker_id=None,
                lease_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"Job {job_id} is {job.status}: only a failed job can be retried.")
    session.info["tertulia_jobs_wake"] = True  # an in-process worker picks it up at once after the commit
    await session.refresh(job)
    return JobView.of(job)
