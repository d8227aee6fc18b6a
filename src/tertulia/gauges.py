"""The database gauges of ``/metrics``: job queue depth and age by kind, conversations with a turn in flight.

Outside ``tertulia.observability`` because it reads the jobs and conversation tables, and those packages report
their own counters through ``observability`` (an import the other way round would be a cycle).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from tertulia.conversation.models import Conversation
from tertulia.core.clock import utcnow
from tertulia.jobs.models import QUEUED, RUNNING, Job


async def collect_database(db: Any) -> list[Any]:
    """Queue depth, running jobs and the oldest due job's wait by kind, and active conversation leases."""
    now = utcnow()
    depth = GaugeMetricFamily("tertulia_job_queue_depth", "Queued jobs (due or delayed) by kind.", labels=["kind"])
    running = GaugeMetricFamily("tertulia_jobs_running", "Jobs claimed by a worker right now, by kind.", labels=["kind"])
    oldest = GaugeMetricFamily(
        "tertulia_job_oldest_age_seconds", "How long the oldest due queued job has waited, by kind.", labels=["kind"]
    )
    leases = GaugeMetricFamily("tertulia_conversation_active_leases", "Conversations with a turn in flight.")
    async with db.sessions() as session:
        rows = await session.execute(
            select(Job.kind, Job.status, func.count(), func.min(Job.run_after))
            .where(Job.status.in_([QUEUED, RUNNING]))
            .group_by(Job.kind, Job.status)
        )
        due_rows = await session.execute(
            select(Job.kind, func.min(Job.run_after)).where(Job.status == QUEUED, Job.run_after <= now).group_by(Job.kind)
        )
        active = await session.scalar(
            select(func.count()).select_from(Conversation)
            .where(Conversation.lock_token.is_not(None), Conversation.lock_expires_at > now)
        )
    kinds_seen: set[str] = set()
    for kind, status, count, _ in rows.all():
        kinds_seen.add(kind)
        (depth if status == QUEUED else running).add_metric([kind], float(count))
    due = {kind: first for kind, first in due_rows.all()}
    for kind in sorted(kinds_seen | set(due)):
        first = due.get(kind)
        if first is not None and first.tzinfo is None:
            first = first.replace(tzinfo=UTC)
        oldest.add_metric([kind], max(0.0, (now - first).total_seconds()) if first is not None else 0.0)
    leases.add_metric([], float(active or 0))
    return [depth, running, oldest, leases]
