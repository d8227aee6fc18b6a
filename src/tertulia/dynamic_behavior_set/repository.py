"""Dynamic behavior set queries; every one is scoped to an organization."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.core.paging import Page, SortKey, apply_sort, fetch_page
from tertulia.dynamic_behavior_set.models import (
    DynamicBehaviorInvocation,
    DynamicBehaviorSet,
    DynamicBehaviorSetVersion,
)


async def get_set(session: AsyncSession, org_id: str, set_id: str) -> DynamicBehaviorSet | None:
    return await session.scalar(
        select(DynamicBehaviorSet).where(DynamicBehaviorSet.org_id == org_id, DynamicBehaviorSet.id == set_id)
    )


async def find_active_by_name(
    session: AsyncSession, org_id: str, name: str, exclude_id: str | None = None
) -> DynamicBehaviorSet | None:
    query = select(DynamicBehaviorSet).where(
        DynamicBehaviorSet.org_id == org_id, DynamicBehaviorSet.name == name, DynamicBehaviorSet.is_active.is_(True)
    )
    if exclude_id is not None:
        query = query.where(DynamicBehaviorSet.id != exclude_id)
    return await session.scalar(query.limit(1))


async def list_sets(
    session: AsyncSession, org_id: str, ids: Sequence[str], is_active: bool | None, sort: Sequence[SortKey]
) -> list[DynamicBehaviorSet]:
    """Matching sets, sorted; JSON filters (services, tags, creators) are applied by the caller."""
    query = select(DynamicBehaviorSet).where(DynamicBehaviorSet.org_id == org_id)
    if ids:
        query = query.where(DynamicBehaviorSet.id.in_(ids))
    if is_active is not None:
        query = query.where(DynamicBehaviorSet.is_active.is_(is_active))
    query = apply_sort(query, sort, {"updated_at": DynamicBehaviorSet.updated_at},
                       [DynamicBehaviorSet.created_at, DynamicBehaviorSet.id])
    return list((await session.scalars(query)).all())


async def get_version(
    session: AsyncSession, org_id: str, set_id: str, version: int
) -> DynamicBehaviorSetVersion | None:
    return await session.scalar(
        select(DynamicBehaviorSetVersion).where(
            DynamicBehaviorSetVersion.org_id == org_id,
            DynamicBehaviorSetVersion.dynamic_behavior_set_id == set_id,
            DynamicBehaviorSetVersion.version == version,
        )
    )


async def list_versions(
    session: AsyncSession,
    org_id: str,
    set_id: str,
    bounds: tuple[int, int] | None,
    sort: Sequence[SortKey],
    limit: int,
    offset: int,
) -> Page[DynamicBehaviorSetVersion]:
    query = select(DynamicBehaviorSetVersion).where(
        DynamicBehaviorSetVersion.org_id == org_id, DynamicBehaviorSetVersion.dynamic_behavior_set_id == set_id
    )
    if bounds is not None:
        query = query.where(
            DynamicBehaviorSetVersion.version >= bounds[0], DynamicBehaviorSetVersion.version <= bounds[1]
        )
    query = apply_sort(query, sort, {"version": DynamicBehaviorSetVersion.version},
                       [DynamicBehaviorSetVersion.version.desc()])
    return await fetch_page(session, query, limit, offset)


async def list_invocations(
    session: AsyncSession, org_id: str, set_id: str, sort: Sequence[SortKey]
) -> list[DynamicBehaviorInvocation]:
    query = select(DynamicBehaviorInvocation).where(
        DynamicBehaviorInvocation.org_id == org_id, DynamicBehaviorInvocation.dynamic_behavior_set_id == set_id
    )
    query = apply_sort(query, sort, {"invoked_at": DynamicBehaviorInvocation.invoked_at},
                       [DynamicBehaviorInvocation.invoked_at.desc(), DynamicBehaviorInvocation.id])
    return list((await session.scalars(query)).all())


async def record_invocation(
    session: AsyncSession,
    org_id: str,
    *,
    set_id: str,
    version: int,
    conversation_id: str,
    service_id: str,
    user_id: str,
    initial_message_id: str | None,
    agent_message_id: str,
    agent_inner_thoughts_ids: list[str],
    external_event_message_ids: list[str],
    invoked_at: datetime,
) -> None:
    """Record that a behavior set version fired in a turn (read back by the invocations listing)."""
    session.add(
        DynamicBehaviorInvocation(
            org_id=org_id, dynamic_behavior_set_id=set_id, dynamic_behavior_set_version=version,
            conversation_id=conversation_id, service_id=service_id, user_id=user_id,
            initial_message_id=initial_message_id, agent_message_id=agent_message_id,
            agent_inner_thoughts_ids=agent_inner_thoughts_ids, external_event_message_ids=external_event_message_ids,
            invoked_at=invoked_at,
        )
    )
