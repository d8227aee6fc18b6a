"""Creating an organization: the org row, its four default roles and a first administrator."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.permissions import DEFAULT_ROLES
from tertulia.organization.models import Organization
from tertulia.role.models import Role
from tertulia.user.models import User
from tertulia.user.schemas import DEFAULT_PREFERENCES  # noqa: F401  (re-exported)


@dataclass
class Provisioned:
    organization: Organization
    roles: dict[str, Role]
    admin: User


async def ensure_default_roles(session: AsyncSession, org_id: str) -> dict[str, Role]:
    existing = {
        r.name: r
        for r in await session.scalars(select(Role).where(Role.org_id == org_id, Role.superseded_at.is_(None)))
    }
    for name, spec in DEFAULT_ROLES.items():
        if name not in existing:
            role = Role(org_id=org_id, name=name, **spec)
            session.add(role)
            existing[name] = role
    await session.flush()
    return existing


async def provision_organization(
    session: AsyncSession,
    org_id: str,
    org_name: str,
    *,
    admin_email: str = "admin@tertulia.example",
    admin_role: str = "DefaultSuperAdministratorRole",
    user_dimensions: list | None = None,
    default_user_preferences: dict | None = None,
) -> Provisioned:
    """Find or create the organization, its default roles and its administrator (idempotent; no commit)."""
    org = await session.get(Organization, org_id)
    if org is None:
        org = Organization(
            id=org_id,
            org_name=org_name,
            user_dimensions=user_dimensions or [],
            default_user_preferences=default_user_preferences or dict(DEFAULT_PREFERENCES),
        )
        session.add(org)
        await session.flush()
    roles = await ensure_default_roles(session, org_id)
    admin = await session.scalar(select(User).where(User.org_id == org_id, User.email == admin_email))
    if admin is None:
        admin = User(
            org_id=org_id,
            first_name="Admin",
            last_name="User",
            email=admin_email,
            role_id=roles[admin_role].id,
            preferences=dict(org.default_user_preferences or DEFAULT_PREFERENCES),
            is_verified=True,
        )
        session.add(admin)
        await session.flush()
    return Provisioned(org, roles, admin)
