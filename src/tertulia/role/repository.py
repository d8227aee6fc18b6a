"""Role and temporary-grant queries; every one is scoped to an organization."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.role.models import Role, TemporaryPermissionGrant


async def get_role(session: AsyncSession, org_id: str, role_id: str) -> Role | None:
    return await session.scalar(select(Role).where(Role.org_id == org_id, Role.id == role_id))


async def find_active_by_name(session: AsyncSession, org_id: str, name: str) -> Role | None:
    """The current role of that name (a modified role leaves superseded rows behind)."""
    return await session.scalar(
        select(Role).where(Role.org_id == org_id, Role.name == name, Role.superseded_at.is_(None))
    )


async def list_active_roles(session: AsyncSession, org_id: str, ids: Sequence[str], names: Sequence[str]) -> list[Role]:
    query = select(Role).where(Role.org_id == org_id, Role.superseded_at.is_(None))
    if ids:
        query = query.where(Role.id.in_(ids))
    if names:
        query = query.where(Role.name.in_(names))
    return list(await session.scalars(query.order_by(Role.created_at, Role.id)))


async def list_grants(session: AsyncSession, org_id: str, ids: Sequence[str], user_ids: Sequence[str]) -> list[TemporaryPermissionGrant]:
    query = select(TemporaryPermissionGrant).where(TemporaryPermissionGrant.org_id == org_id)
    if ids:
        query = query.where(TemporaryPermissionGrant.id.in_(ids))
    if user_ids:
        query = query.where(TemporaryPermissionGrant.user_id.in_(user_ids))
    return list(await session.scalars(query.order_by(TemporaryPermissionGrant.created_at, TemporaryPermissionGrant.id)))
