"""Sign-in with an API key: verify the key, check whom it may impersonate, mint an expiring id token."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.api_key.models import ApiKey
from tertulia.auth.permissions import at_most_as_permissive
from tertulia.auth.schemas import SigninWithAPIKeyResponse
from tertulia.auth.security import mint_token, verify_secret
from tertulia.core.clock import utcnow
from tertulia.core.errors import NotFound, Unauthorized
from tertulia.organization.models import Organization
from tertulia.role.models import Role
from tertulia.runtime import Runtime
from tertulia.user.models import User

_REJECTED = "API key not found, is incorrect, or the requested user is not found."


async def sign_in_with_api_key(
    session: AsyncSession, runtime: Runtime, org_id: str, key_id: str, secret: str, user_id: str
) -> SigninWithAPIKeyResponse:
    if await session.get(Organization, org_id) is None:
        raise NotFound(f"Organization {org_id} not found.")
    key = await session.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.key_id == key_id))
    if key is None or key.expires_at <= utcnow() or not verify_secret(key.secret_hash, secret):
        raise Unauthorized(_REJECTED)
    row = (
        await session.execute(
            select(User, Role).join(Role, Role.id == User.role_id).where(User.org_id == org_id, User.user_id == user_id)
        )
    ).first()
    if row is None:
        raise Unauthorized(_REJECTED)
    _, user_role = row
    key_role = await session.get(Role, key.role_id)
    if key_role is None or not at_most_as_permissive(user_role.permission_grants, key_role.permission_grants):
        raise Unauthorized("This API key's role may not sign in as a user with a more permissive role.")
    token, expires_at = mint_token(runtime.jwt_secret, org_id, user_id, key.key_id, runtime.settings.jwt_ttl_seconds)
    return SigninWithAPIKeyResponse(id_token=token, expires_at=expires_at)
