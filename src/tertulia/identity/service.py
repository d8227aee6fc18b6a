"""Sign-in with an API key: verify the key, check whom it may impersonate, mint an expiring id token.

A key still stored with the legacy argon2 hash is verified with argon2 and its hash rewritten with the keyed hash in
the same request (conditionally on the old hash, so concurrent sign-ins with the key agree); see ``security.py``.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.api_key.models import ApiKey
from tertulia.auth.permissions import at_most_as_permissive
from tertulia.auth.security import hash_secret, mint_token, verify_secret
from tertulia.core.clock import utcnow
from tertulia.core.errors import NotFound, Unauthorized
from tertulia.identity.schemas import SigninWithAPIKeyResponse
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
    if key is None or key.expires_at <= utcnow():
        raise Unauthorized(_REJECTED)
    pepper = runtime.settings.resolved_api_key_pepper()
    check = verify_secret(key.secret_hash, secret, pepper)
    if not check.ok:
        raise Unauthorized(_REJECTED)
    if check.needs_upgrade:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.org_id == org_id, ApiKey.id == key.id, ApiKey.secret_hash == key.secret_hash)
            .values(secret_hash=hash_secret(secret, pepper))
            .execution_options(synchronize_session=False)
        )
        await session.flush()  # committed by the request (a refused sign-in keeps the old hash)
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
