"""Role use cases: create, list, modify (in place, or clone-and-migrate for immutable fields), assign, temporary grants."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import Conflict, NotFound
from tertulia.core.paging import page_list, parse_sort_by, parse_tag_filters, tags_match
from tertulia.role import holders
from tertulia.role import repository as repo
from tertulia.role.models import Role, TemporaryPermissionGrant
from tertulia.role.privileges import ensure_at_least_as_permissive
from tertulia.role.schemas import (
    CreateRoleRequest,
    CreateTemporaryPermissionGrantRequest,
    CreateTemporaryPermissionGrantResponse,
    GetRolesResponse,
    GetTemporaryPermissionGrantsResponse,
    ModifyRoleRequest,
    RoleIdResponse,
    RoleInstance,
    TemporaryPermissionGrantInstance,
)


async def require_role(session: AsyncSession, org_id: str, name: str) -> Role:
    role = await repo.find_active_by_name(session, org_id, name)
    if role is None:
        raise NotFound(f"Role {name!r} not found.")
    return role


async def require_user_role(session: AsyncSession, org_id: str, user_id: str) -> str:
    """The role id the user holds (404 when there is no such user)."""
    role_id = await holders.of("user").role_of(session, org_id, user_id)
    if role_id is None:
        raise NotFound(f"User {user_id} not found.")
    return role_id


async def create_role(session: AsyncSession, who: Principal, body: CreateRoleRequest) -> RoleIdResponse:
    if await repo.find_active_by_name(session, who.org_id, body.role_name):
        raise Conflict(f"A role named {body.role_name!r} already exists.")
    role = Role(
        org_id=who.org_id,
        name=body.role_name,
        description=body.description,
        frontend_view=body.frontend_view,
        permission_grants=[g.stored() for g in body.permission_grants],
    )
    session.add(role)
    await session.flush()
    return RoleIdResponse(role_id=role.id)


def role_instance(role: Role, with_grants: bool) -> RoleInstance:
    return RoleInstance(
        id=role.id,
        name=role.name,
        description=role.description,
        frontend_view=role.frontend_view,  # type: ignore[arg-type]
        permission_grants=list(role.permission_grants or []) if with_grants else [],
    )


async def list_roles(
    session: AsyncSession, who: Principal, ids: list[str], names: list[str], with_grants: bool
) -> GetRolesResponse:
    roles = await repo.list_active_roles(session, who.org_id, ids, names)
    visible = [r for r in roles if who.has("Role:GetRole", {"role_id": r.id, "role_name": r.name})]
    return GetRolesResponse(roles=[role_instance(r, with_grants) for r in visible])


async def modify_role(session: AsyncSession, who: Principal, name: str, body: ModifyRoleRequest) -> RoleIdResponse:
    """``description`` changes in place. New ``permission_grants`` / ``frontend_view`` (immutable fields) create a
    new role document under the same name; its users and API keys move to it and the old row is kept, marked
    superseded (in-flight references resolve, nothing lists it)."""
    role = await require_role(session, who.org_id, name)
    grants = [g.stored() for g in body.permission_grants] if body.permission_grants is not None else role.permission_grants
    view = body.frontend_view or role.frontend_view
    if grants == role.permission_grants and view == role.frontend_view:
        if body.description is not None:
            role.description = body.description
        await session.flush()
        return RoleIdResponse(role_id=role.id)
    await ensure_at_least_as_permissive(session, who, grants, f"the modified role {name!r}")
    clone = Role(
        org_id=who.org_id,
        name=role.name,
        description=body.description if body.description is not None else role.description,
        frontend_view=view,
        permission_grants=list(grants),
    )
    role.superseded_at = utcnow()
    session.add(clone)
    await session.flush()
    await holders.move_all(session, who.org_id, role.id, clone.id)
    await session.flush()
    return RoleIdResponse(role_id=clone.id)


async def assign_role(session: AsyncSession, who: Principal, name: str, user_id: str) -> RoleIdResponse:
    """The caller's role must cover both the role handed out and the role the user holds now (no demoting a
    more privileged user)."""
    role = await require_role(session, who.org_id, name)
    user_role_id = await require_user_role(session, who.org_id, user_id)
    await ensure_at_least_as_permissive(session, who, role.permission_grants, f"the role {name!r}")
    current = await repo.get_role(session, who.org_id, user_role_id)
    if current is not None:
        await ensure_at_least_as_permissive(session, who, current.permission_grants, "this user's current role")
    await holders.of("user").set_role(session, who.org_id, user_id, role.id)
    await session.flush()
    return RoleIdResponse(role_id=role.id)


async def create_grant(
    session: AsyncSession, who: Principal, body: CreateTemporaryPermissionGrantRequest
) -> CreateTemporaryPermissionGrantResponse:
    await require_user_role(session, who.org_id, body.user_id)
    grant = body.permission_grant.stored()
    await ensure_at_least_as_permissive(session, who, [grant], "the permission grant")
    row = TemporaryPermissionGrant(
        org_id=who.org_id,
        user_id=body.user_id,
        expires_at=utcnow() + body.duration,
        permission_grant=grant,
        justification=body.justification,
        creator=who.user_info,
        tags=dict(body.tags),
    )
    session.add(row)
    await session.flush()
    return CreateTemporaryPermissionGrantResponse(temporary_permission_grant_id=row.id, expires_at=row.expires_at)


def _grant_instance(row: TemporaryPermissionGrant) -> TemporaryPermissionGrantInstance:
    return TemporaryPermissionGrantInstance(
        id=row.id,
        org_id=row.org_id,
        created_at=row.created_at,
        updated_at=row.created_at,
        user_id=row.user_id,
        expires_at=row.expires_at,
        permission_grant=row.permission_grant,
        justification=row.justification,
        creator=row.creator,
        tags=row.tags or {},
    )


_GRANT_SORT: dict[str, Any] = {
    "user_id": lambda g: g.user_id,
    "expires_at": lambda g: g.expires_at,
    "permission_grant.permission_name": lambda g: g.permission_grant.get("permission_name", ""),
}


async def list_grants(
    session: AsyncSession,
    who: Principal,
    *,
    ids: list[str],
    user_ids: list[str],
    permission_name: str | None,
    is_expired: bool | None,
    creators: list[str],
    tags: list[str],
    sort_by: list[str],
    limit: int,
    offset: int,
) -> GetTemporaryPermissionGrantsResponse:
    sort = parse_sort_by(sort_by, list(_GRANT_SORT))
    tag_filters = parse_tag_filters(tags)
    wanted_creators = {tuple(c.split(",", 1)) for c in creators}
    now = utcnow()
    rows = await repo.list_grants(session, who.org_id, ids, user_ids)
    selected = [
        g
        for g in rows
        if (permission_name is None or g.permission_grant.get("permission_name") == permission_name)
        and (is_expired is None or (g.expires_at <= now) == is_expired)
        and (not wanted_creators or (g.creator.get("org_id"), g.creator.get("user_id")) in wanted_creators)
        and tags_match(g.tags or {}, tag_filters)
        and who.has("Role:GetTemporaryPermissionGrant", {"user_id": g.user_id})
    ]
    for key in reversed(sort):  # stable sorts, last key first
        selected.sort(key=_GRANT_SORT[key.field], reverse=key.descending)
    page = page_list(selected, limit, offset)
    return GetTemporaryPermissionGrantsResponse(
        temporary_permission_grants=[_grant_instance(g) for g in page.items],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
    )
