"""Post-conversation analysis (memories, user models, metrics) run as durable jobs (``jobs.py``).

The step names and their scheduling belong to the conversation (``conversation/postprocessing.py``); they are
re-exported here for the handlers and older callers.
"""

from __future__ import annotations

from tertulia.conversation.postprocessing import (  # noqa: F401
    COMPUTE_METRICS,
    EXTRACT_MEMORIES,
    GENERATE_USER_MODELS,
    JOB_KIND_PREFIX,
    MAX_ATTEMPTS,
    POST_PROCESSING_STEPS,
    enqueue_step,
    schedule_post_processing,
)
