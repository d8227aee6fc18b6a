"""Agent queries; every one is scoped to an organization."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.agent.models import Agent, AgentVersion
from tertulia.core.paging import Page, SortKey, apply_sort, fetch_page


async def get_agent(session: AsyncSession, org_id: str, agent_id: str) -> Agent | None:
    return await session.scalar(select(Agent).where(Agent.org_id == org_id, Agent.id == agent_id))


async def find_active_by_name(session: AsyncSession, org_id: str, name: str) -> Agent | None:
    return await session.scalar(
        select(Agent).where(Agent.org_id == org_id, Agent.name == name, Agent.deprecated.is_(False))
    )


async def list_agents(
    session: AsyncSession, org_id: str, ids: Sequence[str], deprecated: bool | None, limit: int, offset: int
) -> Page[Agent]:
    query = select(Agent).where(Agent.org_id == org_id)
    if ids:
        query = query.where(Agent.id.in_(ids))
    if deprecated is not None:
        query = query.where(Agent.deprecated.is_(deprecated))
    return await fetch_page(session, query.order_by(Agent.created_at, Agent.id), limit, offset)


async def get_version(session: AsyncSession, org_id: str, agent_id: str, version: int) -> AgentVersion | None:
    return await session.scalar(
        select(AgentVersion).where(
            AgentVersion.org_id == org_id, AgentVersion.agent_id == agent_id, AgentVersion.version == version
        )
    )


async def list_versions(
    session: AsyncSession,
    org_id: str,
    agent_id: str,
    bounds: tuple[int, int] | None,
    sort: Sequence[SortKey],
    limit: int,
    offset: int,
) -> Page[AgentVersion]:
    query = select(AgentVersion).where(AgentVersion.org_id == org_id, AgentVersion.agent_id == agent_id)
    if bounds is not None:
        query = query.where(AgentVersion.version >= bounds[0], AgentVersion.version <= bounds[1])
    query = apply_sort(query, sort, {"version": AgentVersion.version}, [AgentVersion.version.desc()])
    return await fetch_page(session, query, limit, offset)
