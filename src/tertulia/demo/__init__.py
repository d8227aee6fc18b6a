"""The demo service installed by ``tertulia bootstrap`` (definition in ``demo_service.yaml``).

Everything is created through the same use cases the HTTP API runs, so the YAML is also a worked example of the
API's request bodies. Idempotent: an existing active service with the demo's name is returned untouched, and an
existing agent / context graph / behavior set with the demo's names is reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

DEMO_FILE = "demo_service.yaml"


@dataclass
class _Actor:
    """The minimal caller the agent use cases need (``org_id`` + ``user_info``)."""

    org_id: str
    user_info: dict[str, str]


def load_definition() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(DEMO_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


async def _agent(session: AsyncSession, actor: _Actor, spec: dict[str, Any]) -> str:
    from tertulia.agent import repository as agent_repo
    from tertulia.agent import service as agents
    from tertulia.agent.schemas import CreateAgentRequest, CreateAgentVersionRequest

    agent = await agent_repo.find_active_by_name(session, actor.org_id, spec["name"])
    agent_id = agent.id if agent else (await agents.create_agent(session, actor, CreateAgentRequest(agent_name=spec["name"]))).id
    if agent is None or agent.latest_version is None:
        await agents.create_version(session, actor, agent_id, CreateAgentVersionRequest.model_validate(spec["version"]), None)
    return agent_id


async def _graph(session: AsyncSession, actor: _Actor, spec: dict[str, Any]) -> str:
    from tertulia.context_graph import repository as graph_repo
    from tertulia.context_graph import service as graphs
    from tertulia.context_graph.schemas import CreateServiceHierarchicalStateMachineVersionRequest

    graph = await graph_repo.find_active_by_name(session, actor.org_id, spec["name"])
    graph_id = graph.id if graph else await graphs.create_graph(session, actor.org_id, actor.user_info, spec["name"])
    if graph is None or graph.latest_version is None:
        body = CreateServiceHierarchicalStateMachineVersionRequest.model_validate(spec["version"])
        await graphs.create_version(session, actor.org_id, actor.user_info, graph_id, body)
    return graph_id


async def _behavior(session: AsyncSession, actor: _Actor, spec: dict[str, Any], service_id: str) -> None:
    from tertulia.dynamic_behavior_set import repository as dbs_repo
    from tertulia.dynamic_behavior_set import service as behaviors
    from tertulia.dynamic_behavior_set.schemas import CreateDynamicBehaviorSetRequest

    if await dbs_repo.find_active_by_name(session, actor.org_id, spec["name"]):
        return
    body = CreateDynamicBehaviorSetRequest.model_validate({**spec, "applied_to_services": [service_id]})
    await behaviors.create_set(session, actor.org_id, actor.user_info, body)


async def install_demo_service(session: AsyncSession, org_id: str, creator: dict[str, Any]) -> str:
    """Create (or find) the demo service of ``org_id`` and return its id."""
    from tertulia.service import repository as service_repo
    from tertulia.service import service as services
    from tertulia.service.schemas import CreateServiceRequest

    definition = load_definition()
    spec = definition["service"]
    existing = await service_repo.find_active_by_name(session, org_id, spec["name"])
    if existing is not None:
        return existing.id
    actor = _Actor(org_id=org_id, user_info={"org_id": creator["org_id"], "user_id": creator["user_id"]})
    agent_id = await _agent(session, actor, definition["agent"])
    graph_id = await _graph(session, actor, definition["context_graph"])
    body = CreateServiceRequest.model_validate({
        **spec, "agent_id": agent_id, "service_hierarchical_state_machine_id": graph_id, "is_active": True,
    })
    service_id = await services.create_service(session, org_id, actor.user_info, body)
    for behavior in definition.get("behaviors") or []:
        await _behavior(session, actor, behavior, service_id)
    return service_id
