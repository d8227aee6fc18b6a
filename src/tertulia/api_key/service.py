"""API-key use cases: mint (bounded by the caller's own role), list (never the secret), revoke."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.api_key.issuing import issue_api_key
from tertulia.api_key.models import ApiKey
from tertulia.api_key.schemas import (
    APIKeyInstance,
    CreateAPIKeyRequest,
    CreateAPIKeyResponse,
    DeleteAPIKeyResponse,
    GetAPIKeysResponse,
)
from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, NotFound
from tertulia.role import repository as roles
from tertulia.role.privileges import ensure_at_least_as_permissive

MAX_KEYS_PER_ORG = 20


async def create_key(
    session: AsyncSession, who: Principal, body: CreateAPIKeyRequest, pepper: bytes
) -> CreateAPIKeyResponse:
    """At most 20 unexpired keys per organization (400 beyond, as the spec says); the key's role may not be
    more permissive than the caller's. The secret is returned here once and stored only as a keyed hash."""
    role = await roles.find_active_by_name(session, who.org_id, body.role_name)
    if role is None:
        raise NotFound(f"Role {body.role_name!r} not found.")
    await ensure_at_least_as_permissive(session, who, role.permission_grants, f"the role {body.role_name!r}")
    live = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.org_id == who.org_id, ApiKey.expires_at > utcnow())
    )
    if (live or 0) >= MAX_KEYS_PER_ORG:
        raise BadRequest(f"The organization has reached the maximum of {MAX_KEYS_PER_ORG} API keys; delete one first.")
    issued = await issue_api_key(
        session, who.org_id, role.id, who.user_info, pepper=pepper, days=body.duration.total_seconds() / 86400,
        name=body.name,
    )
    await session.flush()
    return CreateAPIKeyResponse(api_key_id=issued.row.key_id, api_key=issued.secret, expires_at=issued.row.expires_at)


async def list_keys(session: AsyncSession, who: Principal) -> GetAPIKeysResponse:
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.org_id == who.org_id).order_by(ApiKey.created_at, ApiKey.id)
    )
    return GetAPIKeysResponse(
        api_keys=[
            APIKeyInstance(
                id=k.id, name=k.name, org_id=k.org_id, created_at=k.created_at, updated_at=k.updated_at,
                key_id=k.key_id, expires_at=k.expires_at, creator=k.creator, role_id=k.role_id,
            )
            for k in rows
            if who.has("Organization:GetAPIKey", {"key_id": k.key_id, "role_id": k.role_id})
        ]
    )


async def delete_key(session: AsyncSession, who: Principal, key_id: str) -> DeleteAPIKeyResponse:
    """Tokens minted from the key stop working at once: every request re-checks the key behind its token."""
    key = await session.scalar(select(ApiKey).where(ApiKey.org_id == who.org_id, ApiKey.key_id == key_id))
    if key is None:
        raise NotFound(f"API key {key_id} not found.")
    who.require("Organization:DeleteAPIKey", {"key_id": key.key_id, "role_id": key.role_id})
    await session.delete(key)
    await session.flush()
    return DeleteAPIKeyResponse(deleted_key_id=key_id)
