"""A finished conversation's post-processing: which jobs are queued, in the transaction that finishes it.

The job handlers (memories, user models, metrics) are ``tertulia.analysis``; this module only names the steps and
queues them, so finishing a conversation (``service.finish_conversation``, or a turn that ends it) needs nothing
from the analysis package.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.jobs.port import enqueue

EXTRACT_MEMORIES = "extract-memories"
GENERATE_USER_MODELS = "generate-user-models"
COMPUTE_METRICS = "compute-metrics"
POST_PROCESSING_STEPS = (EXTRACT_MEMORIES, GENERATE_USER_MODELS, COMPUTE_METRICS)
JOB_KIND_PREFIX = "post-processing."
MAX_ATTEMPTS = 5


async def enqueue_step(session: AsyncSession, org_id: str, conversation_id: str, step: str) -> None:
    """Queue one post-processing step (idempotent: one job per (conversation, step) ever)."""
    await enqueue(
        session,
        JOB_KIND_PREFIX + step,
        {"conversation_id": conversation_id, "org_id": org_id},
        org_id=org_id,
        dedupe_key=f"post-processing:{conversation_id}:{step}",
        max_attempts=MAX_ATTEMPTS,
    )


async def schedule_post_processing(session: AsyncSession, conversation) -> None:  # noqa: ANN001
    """Enqueue the post-conversation jobs for a just-finished conversation, in the caller's transaction.

    Skips ``is_test`` conversations. Does not commit. ``extract-memories`` and ``compute-metrics`` start at once;
    ``generate-user-models`` is queued by ``extract-memories`` when it completes (it merges the new memories).
    """
    if conversation.is_test:
        return None
    for step in (EXTRACT_MEMORIES, COMPUTE_METRICS):
        await enqueue_step(session, conversation.org_id, conversation.id, step)
    return None
