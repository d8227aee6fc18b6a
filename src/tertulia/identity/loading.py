"""Loading the principal behind a verified token: ONE statement per request in the steady state.

Every request re-checks, against the database, everything that can change behind a token while it is valid: that the
API key it was minted from still exists and has not expired (a deleted key stops its tokens at once, in every
process), that the user still exists, which role the user holds now, and the user's unexpired temporary grants.
All of that is read by one ``SELECT`` (user ⋈ role, with the key's expiry and the number of live temporary grants as
scalar subqueries).

What is cached is only what cannot change: a role row's ``permission_grants`` (modifying a role's grants creates a
new role row with a new id and moves its holders to it, ``role/service.py``), keyed by the role id. A request of a
user whose role changed reads the new role id in the same statement and so the new grants. Temporary grants are read
(one more statement) only when the user has live ones.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.api_key.models import ApiKey
from tertulia.auth.principal import Principal, frozen, index_grants
from tertulia.core.clock import utcnow
from tertulia.core.db import run_core
from tertulia.core.errors import Unauthorized
from tertulia.role.models import Role, TemporaryPermissionGrant
from tertulia.user.models import User

KEY_GONE = "The API key behind this token was revoked or has expired."
USER_GONE = "The user of this token no longer exists."


Grants = tuple[tuple[Mapping[str, Any], ...], Mapping[str, tuple[Mapping[str, Any], ...]]]


class _RoleGrants:
    """``(org, role id) → (permission_grants, their index by name)``; role rows never change their grants (bounded
    LRU). Kept frozen (``principal.frozen``: read-only mappings and tuples), so every request of the role shares them
    without a copy or a decode and nothing a request does to its principal reaches another request."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[str, str], Grants] = OrderedDict()

    def get(self, org_id: str, role_id: str) -> Grants | None:
        found = self.entries.get((org_id, role_id))
        if found is not None:
            self.entries.move_to_end((org_id, role_id))
        return found

    def put(self, org_id: str, role_id: str, grants: list[dict[str, Any]]) -> Grants:
        kept = frozen(grants)
        entry = self.entries[(org_id, role_id)] = (kept, index_grants(kept))
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return entry


_role_grants = _RoleGrants()


def _principal_statement() -> Any:
    org_id, user_id = bindparam("org_id"), bindparam("user_id")
    key_expires = (
        select(ApiKey.expires_at).where(ApiKey.org_id == org_id, ApiKey.key_id == bindparam("api_key_id"))
        .scalar_subquery()
    )
    live_temporary = (
        select(func.count())
        .select_from(TemporaryPermissionGrant)
        .where(TemporaryPermissionGrant.org_id == org_id, TemporaryPermissionGrant.user_id == user_id,
               TemporaryPermissionGrant.expires_at > bindparam("now"))
        .scalar_subquery()
    )
    return (
        select(User.user_id, Role.id, Role.name, key_expires.label("key_expires_at"), live_temporary.label("live"))
        .join(Role, Role.id == User.role_id)
        .where(User.org_id == org_id, User.user_id == user_id)
    )


# Built once: a statement object built per request costs more CPU (construction and its cache key) than running it.
_PRINCIPAL = _principal_statement()
_ROLE_GRANTS = select(Role.permission_grants).where(Role.org_id == bindparam("org_id"), Role.id == bindparam("role_id"))
_KEY_EXPIRES = select(ApiKey.expires_at).where(ApiKey.org_id == bindparam("org_id"),
                                               ApiKey.key_id == bindparam("api_key_id"))
_TEMPORARY = select(TemporaryPermissionGrant.permission_grant).where(
    TemporaryPermissionGrant.org_id == bindparam("org_id"), TemporaryPermissionGrant.user_id == bindparam("user_id"),
    TemporaryPermissionGrant.expires_at > bindparam("now"),
)


async def load_principal(session: AsyncSession, org_id: str, user_id: str, api_key_id: str | None) -> Principal:
    """The caller behind a verified token of ``org_id``; ``Unauthorized`` when its key or its user is gone."""
    now = utcnow()
    row = (await run_core(session, _PRINCIPAL, {"org_id": org_id, "user_id": user_id, "api_key_id": api_key_id,
                                                "now": now})).first()
    if row is None:
        # Which one is gone decides the message: the key is checked first, as a token's key outlives no user.
        if api_key_id is not None and not await _key_alive(session, org_id, api_key_id, now):
            raise Unauthorized(KEY_GONE)
        raise Unauthorized(USER_GONE)
    found_user, role_id, role_name, key_expires_at, live = row
    if api_key_id is not None and (key_expires_at is None or _aware(key_expires_at) <= now):
        raise Unauthorized(KEY_GONE)
    cached = _role_grants.get(org_id, role_id)
    if cached is None:
        stored = await session.scalar(_ROLE_GRANTS, {"org_id": org_id, "role_id": role_id})
        cached = _role_grants.put(org_id, role_id, list(stored or []))
    grants, index = cached
    if live:  # the role's grants and the live temporary ones: an index of this request's own
        temporary = await session.scalars(_TEMPORARY, {"org_id": org_id, "user_id": user_id, "now": now})
        grants = (*grants, *(frozen(g) for g in temporary))
        index = None
    return Principal(org_id=org_id, user_id=found_user, role_id=role_id, role_name=role_name, grants=grants,
                     index=index)


async def _key_alive(session: AsyncSession, org_id: str, api_key_id: str, now: Any) -> bool:
    expires_at = await session.scalar(_KEY_EXPIRES, {"org_id": org_id, "api_key_id": api_key_id})
    return expires_at is not None and _aware(expires_at) > now


def _aware(value: Any) -> Any:
    """A scalar subquery's datetime comes back as stored: naive UTC on SQLite."""
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
