"""Comparing privileges: a caller may only hand out (to keys, users, roles, grants) what its own role holds.

Comparisons use the caller's *role* only; temporary permission grants never count (as the spec says).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.permissions import at_most_as_permissive
from tertulia.auth.principal import Principal
from tertulia.core.errors import Forbidden
from tertulia.role.models import Role


async def caller_role_grants(session: AsyncSession, who: Principal) -> list[dict[str, Any]]:
    role = await session.get(Role, who.role_id)
    return list(role.permission_grants or []) if role is not None and role.org_id == who.org_id else []


async def ensure_at_least_as_permissive(
    session: AsyncSession, who: Principal, grants: Iterable[Mapping[str, Any]], what: str
) -> None:
    """403 unless every grant in ``grants`` is also held by the caller's role."""
    if not at_most_as_permissive(list(grants), await caller_role_grants(session, who)):
        raise Forbidden(f"Your role is less permissive than {what}.")
