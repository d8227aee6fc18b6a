"""The durable job queue's table.

A job is ``queued`` until a worker claims it (``running``, with a ``claim_token`` and a lease that the worker
extends while it works), then ``succeeded`` or, after ``max_attempts``, ``failed`` with the last error. A
``running`` job whose lease expired (its worker died) is claimable again. ``dedupe_key`` (unique) makes enqueuing
idempotent: the same logical job (e.g. one post-processing step of one conversation) is queued at most once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tertulia.core.clock import utcnow
from tertulia.core.db import Base, JSONType, UTCDateTime
from tertulia.core.ids import new_object_id

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_jobs_status_run_after", "status", "run_after"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_object_id)
    org_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    worker_id: Mapped[str | None] = mapped_column(String(128), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # W3C trace context (``traceparent``...) of the request that queued the job: the job's span links to it
    trace_context: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
