"""Resolve a service's named version set into everything a conversation turn needs.

``resolve_version_set`` is what the conversation domain calls when it starts a conversation (and may call again
per turn with the snapshotted numbers). A ``null`` version number in a version set means "the latest version at
resolution time"; the returned ``version_set_info`` carries the concrete numbers, exactly the spec's
``VersionSetInfo``, so the conversation can snapshot it.

Referenced graphs are resolved recursively:

* ``referenced_graphs`` maps the main graph's reference names to their ``GraphVersion``; references of a
  referenced graph are added under the dotted path (``"outer.inner"``).
* ``graphs`` maps every ``(graph_id, version)`` reached (the main graph included) to its ``GraphVersion``, so a
  reference met inside any graph (``graph.body["references"][name] == [id, v]``) resolves without ambiguity.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.agent.models import Agent, AgentVersion
from tertulia.context_graph.models import StateMachine, StateMachineVersion
from tertulia.core.errors import BadRequest, NotFound
from tertulia.core.sqljson import decoded, json_rows, parse_time
from tertulia.dynamic_behavior_set.models import DynamicBehaviorSet, DynamicBehaviorSetVersion
from tertulia.engine.contract import BehaviorVersion, GraphVersion
from tertulia.service.models import Service

MAX_REFERENCE_DEPTH = 8


@dataclass
class ResolvedVersionSet:
    service: Service
    version_set_name: str
    agent_id: str
    agent_version: int
    agent: dict[str, Any]  # agent version body: initials, identity, background, behaviors, communication_patterns, voice_config
    graph: GraphVersion
    referenced_graphs: dict[str, GraphVersion]
    llm_model_preferences: dict[str, dict[str, Any]]
    version_set_info: dict[str, Any]
    behaviors: list[BehaviorVersion]
    graphs: dict[tuple[str, int], GraphVersion] = field(default_factory=dict)


async def resolve_version_set(
    session: AsyncSession, org_id: str, service_id: str, version_set_name: str
) -> ResolvedVersionSet:
    service = await session.scalar(select(Service).where(Service.org_id == org_id, Service.id == service_id))
    if service is None:
        raise NotFound(f"Service {service_id} not found.")
    if not service.is_active:
        raise BadRequest(f"Service {service_id} is not active.")
    version_set = (service.version_sets or {}).get(version_set_name)
    if version_set is None:  # seed 003: "Specified organization, service, or version set is not found."
        raise NotFound(f"Service {service_id} has no version set named {version_set_name!r}.")

    agent_version, agent_body = await load_agent_version(
        session, org_id, service.agent_id, version_set.get("agent_version_number")
    )
    graph = await load_graph_version(
        session,
        org_id,
        service.service_hierarchical_state_machine_id,
        version_set.get("service_hierarchical_state_machine_version_number"),
    )
    graphs: dict[tuple[str, int], GraphVersion] = {(graph.graph_id, graph.version): graph}
    referenced: dict[str, GraphVersion] = {}
    await collect_references(session, org_id, graph, "", graphs, referenced, depth=0)

    preferences = {k: dict(v) for k, v in (version_set.get("llm_model_preferences") or {}).items()}
    info = {
        "name": version_set_name,
        "agent_version_info": [service.agent_id, agent_version],
        "service_hierarchical_state_machine_version_info": [graph.graph_id, graph.version],
        "llm_model_preferences": preferences,
    }
    return ResolvedVersionSet(
        service=service,
        version_set_name=version_set_name,
        agent_id=service.agent_id,
        agent_version=agent_version,
        agent=agent_body,
        graph=graph,
        referenced_graphs=referenced,
        llm_model_preferences=preferences,
        version_set_info=info,
        behaviors=await active_behaviors(session, org_id, service.id),
        graphs=graphs,
    )


class _ImmutableVersions:
    """Version rows never change once written (a change is a new version number), so each process keeps the ones it
    has read (bounded, LRU), keyed by ``(kind, org, id, version)``: nothing to invalidate, and nothing another process
    writes can make an entry stale. "Latest" is never cached: which version is latest is always asked of the database.

    Entries are kept as JSON bytes and every read decodes a fresh object (several times cheaper than ``deepcopy``),
    so a caller that changes what it got cannot change the cache.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self.rows: OrderedDict[tuple[str, str, str, int], bytes] = OrderedDict()

    def get(self, key: tuple[str, str, str, int]) -> Any | None:
        raw = self.rows.get(key)
        if raw is None:
            return None
        self.rows.move_to_end(key)
        return orjson.loads(raw)

    def put(self, key: tuple[str, str, str, int], body: Any) -> None:
        self.rows[key] = orjson.dumps(body)
        self.rows.move_to_end(key)
        if len(self.rows) > self.size:
            self.rows.popitem(last=False)


_versions = _ImmutableVersions()


async def load_agent_version(
    session: AsyncSession, org_id: str, agent_id: str, pinned: int | None
) -> tuple[int, dict[str, Any]]:
    if pinned is not None and (cached := _versions.get(("agent", org_id, agent_id, pinned))) is not None:
        return pinned, cached
    number = pinned
    if number is None:
        agent = await session.scalar(select(Agent).where(Agent.org_id == org_id, Agent.id == agent_id))
        if agent is None:
            raise BadRequest(f"The service's agent {agent_id} no longer exists.")
        number = agent.latest_version
        if number is None:
            raise BadRequest(f"Agent {agent_id} has no version yet; create one before starting a conversation.")
    row = await session.scalar(
        select(AgentVersion).where(
            AgentVersion.org_id == org_id, AgentVersion.agent_id == agent_id, AgentVersion.version == number
        )
    )
    if row is None:
        raise BadRequest(f"Agent {agent_id} has no version {number}.")
    _versions.put(("agent", org_id, agent_id, number), row.body)
    return number, dict(row.body)


async def load_graph_version(session: AsyncSession, org_id: str, graph_id: str, pinned: int | None) -> GraphVersion:
    if pinned is not None and (cached := _versions.get(("graph", org_id, graph_id, pinned))) is not None:
        return GraphVersion(graph_id=graph_id, version=pinned, body=cached)
    number = pinned
    if number is None:
        head = await session.scalar(
            select(StateMachine).where(StateMachine.org_id == org_id, StateMachine.id == graph_id)
        )
        if head is None:
            raise BadRequest(f"Context graph {graph_id} no longer exists.")
        number = head.latest_version
        if number is None:
            raise BadRequest(f"Context graph {graph_id} has no version yet; create one before starting a conversation.")
    row = await session.scalar(
        select(StateMachineVersion).where(
            StateMachineVersion.org_id == org_id,
            StateMachineVersion.state_machine_id == graph_id,
            StateMachineVersion.version == number,
        )
    )
    if row is None:
        raise BadRequest(f"Context graph {graph_id} has no version {number}.")
    _versions.put(("graph", org_id, graph_id, number), row.body)
    return GraphVersion(graph_id=graph_id, version=number, body=dict(row.body))


async def collect_references(
    session: AsyncSession,
    org_id: str,
    graph: GraphVersion,
    prefix: str,
    graphs: dict[tuple[str, int], GraphVersion],
    referenced: dict[str, GraphVersion],
    depth: int,
) -> None:
    if depth >= MAX_REFERENCE_DEPTH:
        raise BadRequest("Context graph references are nested too deeply.")
    for name, target in (graph.body.get("references") or {}).items():
        ref_id, ref_version = str(target[0]), int(target[1])
        key = (ref_id, ref_version)
        sub = graphs.get(key)
        fresh = sub is None
        if sub is None:
            sub = await load_graph_version(session, org_id, ref_id, ref_version)
            graphs[key] = sub
        referenced[f"{prefix}{name}"] = sub
        if fresh:
            await collect_references(session, org_id, sub, f"{prefix}{name}.", graphs, referenced, depth + 1)


_ACTIVE_SETS = (  # built once: this runs on every turn
    select(DynamicBehaviorSet.id, DynamicBehaviorSet.applied_to_services, DynamicBehaviorSet.latest_version,
           DynamicBehaviorSet.created_at)
    .where(DynamicBehaviorSet.org_id == bindparam("org_id"), DynamicBehaviorSet.is_active.is_(True))
)


def active_set_rows() -> Any:
    """For a caller's combined read (``core.sqljson``): the organization's active behavior sets; hand the result to
    ``active_behaviors(..., rows=...)``."""
    return json_rows(_ACTIVE_SETS)


async def active_behaviors(
    session: AsyncSession, org_id: str, service_id: str, *, rows: Any = None
) -> list[BehaviorVersion]:
    """Latest versions of the organization's active dynamic behavior sets applied to this service, oldest set first.

    One query per turn (none when the caller read ``active_set_rows`` in its own statement): which sets are active,
    applied here and at which latest version is always read fresh; the version rows themselves (immutable) come
    from the process's version cache, the missing ones in one more query.
    """
    if rows is None:
        rows = await session.scalar(select(active_set_rows()), {"org_id": org_id})
    applied, found = _applied(org_id, service_id, rows)
    missing = [key for key in applied if key not in found]
    if missing:
        rows = await session.scalars(
            select(DynamicBehaviorSetVersion).where(
                DynamicBehaviorSetVersion.org_id == org_id,
                or_(*(
                    (DynamicBehaviorSetVersion.dynamic_behavior_set_id == set_id)
                    & (DynamicBehaviorSetVersion.version == version)
                    for set_id, version in missing
                )),
            )
        )
        for row in rows:
            body = {"conversation_triggers": list(row.conversation_triggers), "actions": [dict(a) for a in row.actions]}
            _versions.put(("behavior", org_id, row.dynamic_behavior_set_id, row.version), body)
            found[(row.dynamic_behavior_set_id, row.version)] = body
    return _versions_of(applied, found)


def cached_active_behaviors(org_id: str, service_id: str, rows: Any) -> list[BehaviorVersion] | None:
    """``active_behaviors`` from ``active_set_rows`` read by the caller, when every version row it needs is in the
    process's version cache (the steady state: no session needed); None when one is missing."""
    applied, found = _applied(org_id, service_id, rows)
    return _versions_of(applied, found) if len(found) == len(applied) else None


def _applied(org_id: str, service_id: str, rows: Any) -> tuple[list[tuple[str, int]], dict[tuple[str, int], Any]]:
    """The (set, latest version) pairs applied to the service, oldest set first, and those of them cached."""
    sets = sorted(decoded(rows), key=lambda row: (parse_time(row[3]), row[0]))
    applied = [(set_id, int(latest)) for set_id, services, latest, _ in sets if service_id in (services or [])]
    found = {key: cached for key in applied if (cached := _versions.get(("behavior", org_id, *key))) is not None}
    return applied, found


def _versions_of(applied: list[tuple[str, int]], found: dict[tuple[str, int], Any]) -> list[BehaviorVersion]:
    return [
        BehaviorVersion(set_id=set_id, version=version, conversation_triggers=body["conversation_triggers"],
                        actions=body["actions"])
        for set_id, version in applied
        if (body := found.get((set_id, version))) is not None
    ]
