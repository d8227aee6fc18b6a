"""Prompt-log queries, always scoped by organization (the purge is the one cluster-wide statement)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.prompt_log.models import PromptLog


def _prefix(org_id: str, prefix: str, since: datetime):  # noqa: ANN202
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return (PromptLog.org_id == org_id, PromptLog.log_key.like(f"{escaped}%", escape="\\"), PromptLog.created_at >= since)


async def count_matching(session: AsyncSession, org_id: str, prefix: str, since: datetime) -> int:
    return int(await session.scalar(select(func.count()).select_from(PromptLog).where(*_prefix(org_id, prefix, since))) or 0)


async def matching(session: AsyncSession, org_id: str, prefix: str, since: datetime, limit: int) -> list[PromptLog]:
    stmt = select(PromptLog).where(*_prefix(org_id, prefix, since)).order_by(PromptLog.log_key).limit(limit)
    return list((await session.scalars(stmt)).all())


async def purge_older_than(session: AsyncSession, cutoff: datetime | None) -> int:
    """Delete every log older than ``cutoff`` (all of them when None: prompt logs are off)."""
    stmt = delete(PromptLog)
    if cutoff is not None:
        stmt = stmt.where(PromptLog.created_at < cutoff)
    result = await session.execute(stmt)
    return int(result.rowcount or 0)
