"""Service queries; every one is scoped to an organization."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.core.paging import SortKey, apply_sort
from tertulia.service.models import Service


async def get_service(session: AsyncSession, org_id: str, service_id: str) -> Service | None:
    return await session.scalar(select(Service).where(Service.org_id == org_id, Service.id == service_id))


async def find_active_by_name(
    session: AsyncSession, org_id: str, name: str, exclude_id: str | None = None
) -> Service | None:
    query = select(Service).where(Service.org_id == org_id, Service.name == name, Service.is_active.is_(True))
    if exclude_id is not None:
        query = query.where(Service.id != exclude_id)
    return await session.scalar(query.limit(1))


async def list_services(
    session: AsyncSession, org_id: str, ids: Sequence[str], is_active: bool | None, sort: Sequence[SortKey]
) -> list[Service]:
    """Every matching service of the organization, sorted (tags are filtered by the caller: they are JSON)."""
    query = select(Service).where(Service.org_id == org_id)
    if ids:
        query = query.where(Service.id.in_(ids))
    if is_active is not None:
        query = query.where(Service.is_active.is_(is_active))
    columns = {"name": Service.name, "is_active": Service.is_active}
    query = apply_sort(query, sort, columns, [Service.created_at, Service.id])
    return list((await session.scalars(query)).all())
