"""Job kinds used by the queue tests (loaded in worker subprocesses through ``TERTULIA_JOBS_HANDLER_MODULES``).

``test.slow-memory`` behaves like a real post-processing step: slow work outside any transaction, then one
transaction that settles the job first and replaces its result (delete-then-insert of one ``UserMemory`` row keyed
by the payload's conversation id). Every start is appended to the payload's ``log`` file.
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import delete

from tertulia.jobs.registry import JobContext, register
from tertulia.user.models import UserMemory


async def slow_memory(ctx: JobContext) -> None:
    payload = ctx.payload
    with open(payload["log"], "a") as log:
        log.write(f"start attempt={ctx.job.attempts} pid={os.getpid()}\n")
    if ctx.job.attempts <= payload.get("slow_attempts", 1):
        await asyncio.sleep(payload.get("sleep", 60))
    async with ctx.runtime.db.sessions() as session:
        await ctx.complete(session)
        await session.execute(delete(UserMemory).where(UserMemory.conversation_id == payload["conversation_id"]))
        session.add(UserMemory(org_id=payload["org_id"], user_id="u", conversation_id=payload["conversation_id"],
                               content=f"done by pid {os.getpid()}"))
        await session.commit()


register("test.slow-memory", slow_memory)
