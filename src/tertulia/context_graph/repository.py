"""Context graph queries; every one is scoped to an organization."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.context_graph.models import StateMachine, StateMachineVersion
from tertulia.core.paging import Page, SortKey, apply_sort, fetch_page


async def get_graph(session: AsyncSession, org_id: str, graph_id: str) -> StateMachine | None:
    return await session.scalar(select(StateMachine).where(StateMachine.org_id == org_id, StateMachine.id == graph_id))


async def find_active_by_name(session: AsyncSession, org_id: str, name: str) -> StateMachine | None:
    return await session.scalar(
        select(StateMachine).where(
            StateMachine.org_id == org_id, StateMachine.name == name, StateMachine.deprecated.is_(False)
        )
    )


async def list_graphs(
    session: AsyncSession, org_id: str, ids: Sequence[str], deprecated: bool | None, limit: int, offset: int
) -> Page[StateMachine]:
    query = select(StateMachine).where(StateMachine.org_id == org_id)
    if ids:
        query = query.where(StateMachine.id.in_(ids))
    if deprecated is not None:
        query = query.where(StateMachine.deprecated.is_(deprecated))
    return await fetch_page(session, query.order_by(StateMachine.created_at, StateMachine.id), limit, offset)


async def get_version(session: AsyncSession, org_id: str, graph_id: str, version: int) -> StateMachineVersion | None:
    return await session.scalar(
        select(StateMachineVersion).where(
            StateMachineVersion.org_id == org_id,
            StateMachineVersion.state_machine_id == graph_id,
            StateMachineVersion.version == version,
        )
    )


async def list_versions(
    session: AsyncSession,
    org_id: str,
    graph_id: str,
    bounds: tuple[int, int] | None,
    sort: Sequence[SortKey],
    limit: int,
    offset: int,
) -> Page[StateMachineVersion]:
    query = select(StateMachineVersion).where(
        StateMachineVersion.org_id == org_id, StateMachineVersion.state_machine_id == graph_id
    )
    if bounds is not None:
        query = query.where(StateMachineVersion.version >= bounds[0], StateMachineVersion.version <= bounds[1])
    query = apply_sort(query, sort, {"version": StateMachineVersion.version}, [StateMachineVersion.version.desc()])
    return await fetch_page(session, query, limit, offset)
