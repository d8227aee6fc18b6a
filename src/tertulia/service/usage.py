"""Which active services use an agent or a context graph (deletes of those are refused while in use)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.core import references
from tertulia.core.errors import BadRequest
from tertulia.service.models import Service


async def active_services_using(
    session: AsyncSession, org_id: str, *, agent_id: str | None = None, state_machine_id: str | None = None
) -> list[Service]:
    query = select(Service).where(Service.org_id == org_id, Service.is_active.is_(True))
    if agent_id is not None:
        query = query.where(Service.agent_id == agent_id)
    if state_machine_id is not None:
        query = query.where(Service.service_hierarchical_state_machine_id == state_machine_id)
    return list((await session.scalars(query.order_by(Service.created_at))).all())


async def ensure_not_used_by_active_service(
    session: AsyncSession, org_id: str, *, agent_id: str | None = None, state_machine_id: str | None = None
) -> None:
    """Raise ``BadRequest`` when an active service of the organization uses the agent / context graph."""
    if agent_id is None and state_machine_id is None:
        return
    users = await active_services_using(session, org_id, agent_id=agent_id, state_machine_id=state_machine_id)
    if users:
        what = "agent" if agent_id is not None else "context graph"
        names = ", ".join(f"{s.name!r} ({s.id})" for s in users[:5])
        raise BadRequest(f"An active service exists that utilizes this {what}: {names}.")


async def _agent_unused(session: AsyncSession, org_id: str, agent_id: str) -> None:
    await ensure_not_used_by_active_service(session, org_id, agent_id=agent_id)


async def _graph_unused(session: AsyncSession, org_id: str, graph_id: str) -> None:
    await ensure_not_used_by_active_service(session, org_id, state_machine_id=graph_id)


async def existing_services(session: AsyncSession, org_id: str, ids: Sequence[str]) -> set[str]:
    if not ids:
        return set()
    return set(await session.scalars(select(Service.id).where(Service.org_id == org_id, Service.id.in_(list(ids)))))


# Agents, context graphs and dynamic behavior sets sit below services: they ask through ``core.references``.
references.register_usage_check("agent", _agent_unused)
references.register_usage_check("service_hierarchical_state_machine", _graph_unused)
references.register_finder("service", existing_services)
