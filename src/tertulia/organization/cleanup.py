"""What deleting an organization leaves outside the database: its stored audio.

``delete_organization`` wipes the rows and, in the same transaction, queues ``organization.purge-blobs`` (no
``org_id``: the organization is gone, so the job is cluster-wide). A worker then deletes every blob under the
``{org_id}/`` folder of the blob store (filesystem or S3). The job is idempotent, so a retry after a crash, or a
second run, deletes what is left and nothing else.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.jobs.port import enqueue
from tertulia.jobs.registry import JobContext, register

PURGE_BLOBS = "organization.purge-blobs"
log = logging.getLogger("tertulia.organization")


async def queue_blob_purge(session: AsyncSession, org_id: str) -> None:
    """Queue the purge in the caller's transaction (it commits with the deletion, or not at all)."""
    await enqueue(session, PURGE_BLOBS, {"org_id": org_id}, dedupe_key=f"{PURGE_BLOBS}:{org_id}", max_attempts=10)


async def purge_blobs(ctx: JobContext) -> None:
    blobs = ctx.runtime.blobs
    if blobs is None:
        return
    removed = await blobs.delete_prefix(f"{ctx.payload['org_id']}/")
    log.info("deleted %d stored audio file(s) of deleted organization %s", removed, ctx.payload["org_id"])


register(PURGE_BLOBS, purge_blobs)
