"""The exact agent / context-graph versions a conversation was started with.

A conversation snapshots its ``version_set_info`` (concrete version numbers) when it is created; every later turn
runs on those pinned versions, never on "latest" again, even when the service's version set moves on. Dynamic
behaviors are the exception by design: the currently active sets apply (as the reference API documents for
simulations too).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.engine.contract import GraphVersion
from tertulia.service import resolution as res
from tertulia.service.resolution import ResolvedVersionSet
from tertulia.turns.contract import PinnedVersions


async def resolve_pinned(
    session: AsyncSession, org_id: str, service_id: str, version_set_info: dict[str, Any], *, behaviors: bool = True
) -> PinnedVersions:
    """``behaviors=False``: without the active behaviors (an empty list), which are the one part always read fresh."""
    # The service domain's resolution helpers load one exact version each (BadRequest when it is gone).
    agent_id, agent_version = version_set_info["agent_version_info"]
    graph_id, graph_version = version_set_info["service_hierarchical_state_machine_version_info"]
    _, agent_body = await res.load_agent_version(session, org_id, agent_id, int(agent_version))
    graph = await res.load_graph_version(session, org_id, graph_id, int(graph_version))
    graphs: dict[tuple[str, int], GraphVersion] = {(graph.graph_id, graph.version): graph}
    referenced: dict[str, GraphVersion] = {}
    await res.collect_references(session, org_id, graph, "", graphs, referenced, depth=0)
    return PinnedVersions(
        agent=agent_body,
        graph=graph,
        referenced_graphs=referenced,
        llm_model_preferences={k: dict(v) for k, v in (version_set_info.get("llm_model_preferences") or {}).items()},
        behaviors=await res.active_behaviors(session, org_id, service_id) if behaviors else [],
    )


def pinned_from(resolved: ResolvedVersionSet) -> PinnedVersions:
    """The versions a new conversation pins: the service's version set as resolved now."""
    return PinnedVersions(
        resolved.agent, resolved.graph, resolved.referenced_graphs, resolved.llm_model_preferences, resolved.behaviors
    )
