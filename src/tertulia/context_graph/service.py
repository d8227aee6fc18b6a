"""Context graph use cases: create, list, validated immutable versions, deprecate.

Functions take ``org_id`` and ``creator`` (a ``UserInfo`` dict) rather than a request principal, so the demo
installer and the CLI can use them too. Versions are stored as given, normalised to the spec's output shape;
the global guidelines/constraints are stored separately from the states and applied by the engine.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.context_graph import repository as repo
from tertulia.context_graph.models import StateMachine, StateMachineVersion
from tertulia.context_graph.schemas import (
    CreateServiceHierarchicalStateMachineVersionRequest,
    CreateServiceHierarchicalStateMachineVersionResponse,
    GetServiceHierarchicalStateMachinesResponse,
    GetServiceHierarchicalStateMachineVersionsResponse,
    ServiceHierarchicalStateMachineInstance,
    StateMachineInstance,
)
from tertulia.context_graph.validation import graph_problems
from tertulia.core import references
from tertulia.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from tertulia.core.paging import parse_sort_by
from tertulia.core.versions import parse_version_selector
from tertulia.webhook.events import resource_updated


async def create_graph(session: AsyncSession, org_id: str, creator: dict[str, Any], name: str) -> str:
    if await repo.find_active_by_name(session, org_id, name):
        raise Conflict(f"A context graph named {name!r} already exists.")
    graph = StateMachine(org_id=org_id, name=name, creator=creator)
    session.add(graph)
    await session.flush()
    await resource_updated(session, org_id, "service_hierarchical_state_machine", graph.id, None, "created")
    await session.flush()
    return graph.id


async def list_graphs(
    session: AsyncSession, org_id: str, ids: list[str], deprecated: bool | None, limit: int, offset: int
) -> GetServiceHierarchicalStateMachinesResponse:
    page = await repo.list_graphs(session, org_id, ids, deprecated, limit, offset)
    return GetServiceHierarchicalStateMachinesResponse(
        service_hierarchical_state_machines=[
            StateMachineInstance(id=g.id, name=g.name, deprecated=g.deprecated, latest_version=g.latest_version)
            for g in page.items
        ],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
    )


async def require_graph(session: AsyncSession, org_id: str, graph_id: str) -> StateMachine:
    graph = await repo.get_graph(session, org_id, graph_id)
    if graph is None:
        raise NotFound(f"Context graph {graph_id} not found.")
    return graph


async def _referenced_states(session: AsyncSession, org_id: str, references: dict[str, Any]) -> dict[str, set[str]]:
    """States of each referenced graph version; 400 when one is missing or deprecated."""
    found: dict[str, set[str]] = {}
    for name, (ref_id, ref_version) in references.items():
        head = await repo.get_graph(session, org_id, ref_id)
        if head is None or head.deprecated:
            state = "is deprecated" if head is not None else "does not exist"
            raise BadRequest(f"Reference {name!r}: context graph {ref_id} {state}.")
        row = await repo.get_version(session, org_id, ref_id, ref_version)
        if row is None:
            raise BadRequest(f"Reference {name!r}: context graph {ref_id} has no version {ref_version}.")
        found[name] = {s["name"] for s in row.body.get("states") or []}
    return found


async def create_version(
    session: AsyncSession,
    org_id: str,
    creator: dict[str, Any],
    graph_id: str,
    body: CreateServiceHierarchicalStateMachineVersionRequest,
    expected: int | None = None,
    dry_run: bool = False,
) -> CreateServiceHierarchicalStateMachineVersionResponse | None:
    graph = await require_graph(session, org_id, graph_id)
    if graph.deprecated:
        raise NotFound(f"Context graph {graph_id} is deleted.")
    next_version = (graph.latest_version or 0) + 1
    if expected is not None and expected != next_version:
        raise Conflict(f"Version {expected} is not the next version of this context graph (expected {next_version}).")
    stored = body.model_dump(mode="json")
    referenced = await _referenced_states(session, org_id, stored["references"])
    problems = graph_problems(stored, referenced)
    if problems:
        raise Unprocessable("Invalid context graph: " + " ".join(problems))
    if dry_run:
        return None
    row = StateMachineVersion(
        org_id=org_id, state_machine_id=graph_id, version=next_version, body=stored, creator=creator
    )
    graph.latest_version = next_version
    session.add(row)
    try:
        await resource_updated(session, org_id, "service_hierarchical_state_machine", graph_id, next_version, "created")
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another version of this context graph was created concurrently; retry.") from exc
    return CreateServiceHierarchicalStateMachineVersionResponse(version=row.version, created_at=row.created_at)


def version_instance(row: StateMachineVersion) -> ServiceHierarchicalStateMachineInstance:
    return ServiceHierarchicalStateMachineInstance(
        org_id=row.org_id,
        service_hierarchical_state_machine_id=row.state_machine_id,
        version=row.version,
        created_at=row.created_at,
        creator=row.creator,
        **row.body,
    )


async def list_versions(
    session: AsyncSession,
    org_id: str,
    graph_id: str,
    selector: str | None,
    sort_by: list[str],
    limit: int,
    offset: int,
) -> GetServiceHierarchicalStateMachineVersionsResponse:
    graph = await require_graph(session, org_id, graph_id)
    bounds = parse_version_selector(selector, graph.latest_version)
    sort = parse_sort_by(sort_by, ["version"])
    page = await repo.list_versions(session, org_id, graph_id, bounds, sort, limit, offset)
    return GetServiceHierarchicalStateMachineVersionsResponse(
        state_machine_versions=[version_instance(v) for v in page.items],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
    )


async def delete_graph(session: AsyncSession, org_id: str, graph_id: str) -> dict:
    graph = await require_graph(session, org_id, graph_id)
    if graph.deprecated:
        raise Conflict(f"Context graph {graph_id} is already deleted.")
    await references.ensure_unused(session, org_id, "service_hierarchical_state_machine", graph_id)
    graph.deprecated = True
    await resource_updated(session, org_id, "service_hierarchical_state_machine", graph_id, None, "deleted")
    await session.flush()
    return {}
