"""Service use cases: create (with the ``edge`` and ``release`` version sets), list, update, version sets.

Functions take ``org_id`` and ``creator``/``who`` explicitly so the demo installer can use them without a request.

Version sets are stored on the service row as ``{name: {agent_version_number, service_hierarchical_state_machine_
version_number, llm_model_preferences}}``. ``edge`` always follows the latest versions and cannot be changed;
``release`` is what conversations use by default. When ``update-service`` switches the agent (or graph), version
numbers pinned for the previous one are meaningless, so every version set's pin is reset to ``null`` (latest).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.agent.models import Agent, AgentVersion
from tertulia.context_graph.models import StateMachine, StateMachineVersion
from tertulia.core.errors import BadRequest, Conflict, NotFound
from tertulia.core.paging import page_list, parse_sort_by, parse_tag_filters, tags_match
from tertulia.core.schemas import tags_to_list
from tertulia.service import repository as repo
from tertulia.service.models import Service
from tertulia.webhook.events import resource_updated
from tertulia.service.schemas import (
    CreateServiceRequest,
    FilterValues,
    GetServicesResponse,
    ServiceInstance,
    UpdateServiceRequest,
    VersionSet,
)

EDGE = "edge"
RELEASE = "release"
PROTECTED_VERSION_SETS = (EDGE, RELEASE)


def _latest_version_set() -> dict[str, Any]:
    return {"agent_version_number": None, "service_hierarchical_state_machine_version_number": None,
            "llm_model_preferences": {}}


async def _usable_agent(session: AsyncSession, org_id: str, agent_id: str, missing: type[Exception]) -> Agent:
    agent = await session.get(Agent, agent_id)
    if agent is None or agent.org_id != org_id:
        raise missing(f"Agent {agent_id} not found.")
    if agent.deprecated:
        raise BadRequest(f"Agent {agent_id} is deleted.")
    if agent.latest_version is None:
        raise BadRequest(f"Agent {agent_id} has no version yet; create one first.")
    return agent


async def _usable_graph(session: AsyncSession, org_id: str, graph_id: str, missing: type[Exception]) -> StateMachine:
    graph = await session.get(StateMachine, graph_id)
    if graph is None or graph.org_id != org_id:
        raise missing(f"Context graph {graph_id} not found.")
    if graph.deprecated:
        raise BadRequest(f"Context graph {graph_id} is deleted.")
    if graph.latest_version is None:
        raise BadRequest(f"Context graph {graph_id} has no version yet; create one first.")
    return graph


async def _check_version_set(
    session: AsyncSession, org_id: str, agent_id: str, graph_id: str, version_set: VersionSet
) -> None:
    """Pinned numbers must be versions of the service's own agent / context graph (400 otherwise)."""
    n = version_set.agent_version_number
    if n is not None and await session.scalar(
        select(AgentVersion.id).where(AgentVersion.org_id == org_id, AgentVersion.agent_id == agent_id,
                                      AgentVersion.version == n)
    ) is None:
        raise BadRequest(f"Agent version {n} does not belong to the service's agent {agent_id}.")
    n = version_set.service_hierarchical_state_machine_version_number
    if n is not None and await session.scalar(
        select(StateMachineVersion.id).where(StateMachineVersion.org_id == org_id,
                                             StateMachineVersion.state_machine_id == graph_id,
                                             StateMachineVersion.version == n)
    ) is None:
        raise BadRequest(f"Context graph version {n} does not belong to the service's context graph {graph_id}.")


async def create_service(session: AsyncSession, org_id: str, creator: dict[str, Any], body: CreateServiceRequest) -> str:
    await _usable_agent(session, org_id, body.agent_id, NotFound)
    await _usable_graph(session, org_id, body.service_hierarchical_state_machine_id, NotFound)
    release = _latest_version_set()
    if body.release_version_set is not None:
        await _check_version_set(session, org_id, body.agent_id, body.service_hierarchical_state_machine_id,
                                 body.release_version_set)
        release = body.release_version_set.stored()
    if body.is_active and await repo.find_active_by_name(session, org_id, body.name):
        raise Conflict(f"An active service named {body.name!r} already exists.")
    service = Service(
        org_id=org_id,
        name=body.name,
        description=body.description,
        is_active=body.is_active,
        agent_id=body.agent_id,
        service_hierarchical_state_machine_id=body.service_hierarchical_state_machine_id,
        version_sets={EDGE: _latest_version_set(), RELEASE: release},
        tags=dict(body.tags),
        keyterms=list(body.keyterms),
        creator=creator,
        updated_by=creator,
    )
    session.add(service)
    await session.flush()
    await resource_updated(session, org_id, "service", service.id, None, "created")
    await session.flush()
    return service.id


def service_instance(s: Service) -> ServiceInstance:
    return ServiceInstance(
        id=s.id,
        name=s.name,
        version_sets=s.version_sets or {},
        description=s.description,
        is_active=s.is_active,
        service_hierarchical_state_machine_id=s.service_hierarchical_state_machine_id,
        agent_id=s.agent_id,
        tags=tags_to_list(s.tags),
        keyterms=list(s.keyterms or []),
        creator=s.creator,
        updated_by=s.updated_by,
    )


def _tag_strings(tags: dict[str, Any]) -> list[str]:
    return [f"{k}:{v if v is not None else ''}" for k, v in tags.items()]


async def list_services(
    session: AsyncSession,
    who: Any,
    ids: list[str],
    is_active: bool | None,
    tags: list[str],
    sort_by: list[str],
    limit: int,
    offset: int,
) -> GetServicesResponse:
    sort = parse_sort_by(sort_by, ["name", "is_active"])
    filters = parse_tag_filters(tags)
    rows = await repo.list_services(session, who.org_id, ids, is_active, sort)
    visible = [s for s in rows if who.has("Service:GetService", {"service_id": s.id})]
    matching = [s for s in visible if tags_match(s.tags or {}, filters)]
    page = page_list(matching, limit, offset)
    filter_values = None
    if offset == 0:
        filter_values = FilterValues(tags=sorted({t for s in visible for t in _tag_strings(s.tags or {})}))
    return GetServicesResponse(
        services=[service_instance(s) for s in page.items],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
        filter_values=filter_values,
    )


async def require_service(session: AsyncSession, org_id: str, service_id: str) -> Service:
    service = await repo.get_service(session, org_id, service_id)
    if service is None:
        raise NotFound(f"Service {service_id} not found.")
    return service


async def update_service(
    session: AsyncSession, org_id: str, updater: dict[str, Any], service_id: str, body: UpdateServiceRequest
) -> dict[str, Any]:
    service = await require_service(session, org_id, service_id)
    agent_id = body.agent_id or service.agent_id
    graph_id = body.service_hierarchical_state_machine_id or service.service_hierarchical_state_machine_id
    name = body.name if body.name is not None else service.name
    active = body.is_active if body.is_active is not None else service.is_active
    if body.agent_id is not None or active:
        await _usable_agent(session, org_id, agent_id, BadRequest)
    if body.service_hierarchical_state_machine_id is not None or active:
        await _usable_graph(session, org_id, graph_id, BadRequest)
    if active and (body.name is not None or body.is_active) and await repo.find_active_by_name(
        session, org_id, name, exclude_id=service.id
    ):
        raise Conflict(f"An active service named {name!r} already exists.")

    sets = {k: dict(v) for k, v in (service.version_sets or {}).items()}
    if agent_id != service.agent_id:
        for vs in sets.values():
            vs["agent_version_number"] = None
    if graph_id != service.service_hierarchical_state_machine_id:
        for vs in sets.values():
            vs["service_hierarchical_state_machine_version_number"] = None
    service.version_sets = sets
    service.name = name
    service.is_active = active
    service.agent_id = agent_id
    service.service_hierarchical_state_machine_id = graph_id
    if body.description is not None:
        service.description = body.description
    if body.tags is not None:
        service.tags = dict(body.tags)
    if body.keyterms is not None:
        service.keyterms = list(body.keyterms)
    service.updated_by = updater
    await resource_updated(session, org_id, "service", service.id, None, "updated")
    await session.flush()
    return {}


async def upsert_version_set(
    session: AsyncSession, who: Any, service_id: str, name: str, version_set: VersionSet
) -> None:
    service = await require_service(session, who.org_id, service_id)
    if name == EDGE:
        raise BadRequest("The edge version set always follows the latest versions and cannot be changed.")
    sets = {k: dict(v) for k, v in (service.version_sets or {}).items()}
    permission = "Service:UpdateVersionSet" if name in sets else "Service:CreateVersionSet"
    who.require(permission, {"service_id": service_id, "version_set_name": name})
    await _check_version_set(session, who.org_id, service.agent_id,
                             service.service_hierarchical_state_machine_id, version_set)
    sets[name] = version_set.stored()
    service.version_sets = sets
    service.updated_by = who.user_info
    await resource_updated(session, who.org_id, "service", service.id, None, "updated")
    await session.flush()


async def delete_version_set(session: AsyncSession, who: Any, service_id: str, name: str) -> None:
    service = await require_service(session, who.org_id, service_id)
    if name in PROTECTED_VERSION_SETS:
        raise BadRequest(f"The {name} version set cannot be deleted.")
    sets = {k: dict(v) for k, v in (service.version_sets or {}).items()}
    if name not in sets:
        raise NotFound(f"Service {service_id} has no version set named {name!r}.")
    who.require("Service:DeleteVersionSet", {"service_id": service_id, "version_set_name": name})
    del sets[name]
    service.version_sets = sets
    service.updated_by = who.user_info
    await resource_updated(session, who.org_id, "service", service.id, None, "updated")
    await session.flush()
