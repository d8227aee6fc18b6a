"""``prompt-log.purge``: a periodic, cluster-wide job that deletes prompt logs past the retention
(``TERTULIA_PROMPT_LOG_RETENTION_DAYS``; with retention off it deletes them all). Runs every
``TERTULIA_PROMPT_LOG_PURGE_SECONDS`` (one run per period across the cluster)."""

from __future__ import annotations

import logging
from datetime import timedelta

from tertulia.core.clock import utcnow
from tertulia.jobs.registry import JobContext, register, register_periodic
from tertulia.observability.settings import ObservabilitySettings
from tertulia.prompt_log import repository as repo

PURGE = "prompt-log.purge"
log = logging.getLogger("tertulia.prompt_log")


async def purge(ctx: JobContext) -> None:
    days = ObservabilitySettings().prompt_log_retention_days
    cutoff = utcnow() - timedelta(days=days) if days else None
    async with ctx.settle() as session:
        removed = await repo.purge_older_than(session, cutoff)
    if removed:
        log.info("purged %d prompt logs (retention %s)", removed, f"{days:g} days" if days else "off")


register(PURGE, purge)
register_periodic(PURGE, lambda settings: ObservabilitySettings().prompt_log_purge_seconds)
