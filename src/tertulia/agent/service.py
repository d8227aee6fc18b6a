"""Agent use cases: create, list, version (first version complete, later ones inherit), deprecate."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.agent import repository as repo
from tertulia.agent.models import Agent, AgentVersion
from tertulia.agent.schemas import (
    AgentInstance,
    AgentVersionInstance,
    CreateAgentRequest,
    CreateAgentResponse,
    CreateAgentVersionRequest,
    CreateAgentVersionResponse,
    GetAgentsResponse,
    GetAgentVersionsResponse,
)
from tertulia.auth.principal import Principal
from tertulia.core import references
from tertulia.core.errors import BadRequest, Conflict, NotFound
from tertulia.core.paging import parse_sort_by
from tertulia.core.versions import parse_version_selector
from tertulia.webhook.events import resource_updated

VERSION_FIELDS = ("initials", "identity", "background", "behaviors", "communication_patterns", "voice_config")
REQUIRED_FIRST = ("initials", "identity", "background", "behaviors", "communication_patterns")


async def create_agent(session: AsyncSession, who: Principal, body: CreateAgentRequest) -> CreateAgentResponse:
    if await repo.find_active_by_name(session, who.org_id, body.agent_name):
        raise Conflict(f"An Agent named {body.agent_name!r} already exists.")
    agent = Agent(org_id=who.org_id, name=body.agent_name, creator=who.user_info)
    session.add(agent)
    await session.flush()
    await resource_updated(session, who.org_id, "agent", agent.id, None, "created")
    await session.flush()
    return CreateAgentResponse(id=agent.id)


async def list_agents(
    session: AsyncSession, who: Principal, ids: list[str], deprecated: bool | None, limit: int, offset: int
) -> GetAgentsResponse:
    page = await repo.list_agents(session, who.org_id, ids, deprecated, limit, offset)
    return GetAgentsResponse(
        agents=[AgentInstance(id=a.id, name=a.name, deprecated=a.deprecated, latest_version=a.latest_version) for a in page.items],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
    )


async def require_agent(session: AsyncSession, org_id: str, agent_id: str) -> Agent:
    agent = await repo.get_agent(session, org_id, agent_id)
    if agent is None:
        raise NotFound(f"Agent {agent_id} not found.")
    return agent


async def create_version(
    session: AsyncSession, who: Principal, agent_id: str, body: CreateAgentVersionRequest, expected: int | None
) -> CreateAgentVersionResponse:
    agent = await require_agent(session, who.org_id, agent_id)
    if agent.deprecated:
        raise NotFound(f"Agent {agent_id} is deleted.")
    next_version = (agent.latest_version or 0) + 1
    if expected is not None and expected != next_version:
        raise Conflict(f"Version {expected} is not the next version of this agent (expected {next_version}).")
    given = body.model_dump(mode="json", exclude_none=True)
    if agent.latest_version is None:
        missing = [f for f in REQUIRED_FIRST if f not in given]
        if missing:
            raise BadRequest(f"The first version of an agent needs every field; missing: {', '.join(missing)}.")
        merged: dict[str, Any] = {"voice_config": None, **given}
    else:
        previous = await repo.get_version(session, who.org_id, agent_id, agent.latest_version)
        merged = {**(previous.body if previous else {}), **given}
    row = AgentVersion(org_id=who.org_id, agent_id=agent_id, version=next_version, body=merged, creator=who.user_info)
    agent.latest_version = next_version
    session.add(row)
    try:
        await resource_updated(session, who.org_id, "agent", agent_id, next_version, "created")
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another version of this agent was created concurrently; retry.") from exc
    return CreateAgentVersionResponse(version=row.version, created_at=row.created_at)


def version_instance(row: AgentVersion) -> AgentVersionInstance:
    body = row.body
    voice = body.get("voice_config")
    return AgentVersionInstance(
        org_id=row.org_id,
        agent_id=row.agent_id,
        version=row.version,
        voice_config={"voice_id": voice["voice_id"]} if voice else None,
        initials=body["initials"],
        identity=body["identity"],
        background=body["background"],
        behaviors=body["behaviors"],
        communication_patterns=body["communication_patterns"],
        created_at=row.created_at,
        creator=row.creator,
    )


async def list_versions(
    session: AsyncSession,
    who: Principal,
    agent_id: str,
    selector: str | None,
    sort_by: list[str],
    limit: int,
    offset: int,
) -> GetAgentVersionsResponse:
    agent = await require_agent(session, who.org_id, agent_id)
    bounds = parse_version_selector(selector, agent.latest_version)
    sort = parse_sort_by(sort_by, ["version"])
    page = await repo.list_versions(session, who.org_id, agent_id, bounds, sort, limit, offset)
    return GetAgentVersionsResponse(
        agent_versions=[version_instance(v) for v in page.items],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
    )


async def delete_agent(session: AsyncSession, who: Principal, agent_id: str) -> dict:
    agent = await require_agent(session, who.org_id, agent_id)
    if agent.deprecated:
        raise Conflict(f"Agent {agent_id} is already deleted.")
    await references.ensure_unused(session, who.org_id, "agent", agent_id)  # an active service using it: 400
    agent.deprecated = True
    await resource_updated(session, who.org_id, "agent", agent_id, None, "deleted")
    await session.flush()
    return {}
