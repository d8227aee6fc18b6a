"""The organization side of ``user.organizations.Organizations``, registered when the package is imported."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.organization.models import Organization
from tertulia.user import organizations


class OrganizationsForUsers:
    async def exists(self, session: AsyncSession, org_id: str) -> bool:
        return await session.get(Organization, org_id) is not None

    async def default_user_preferences(self, session: AsyncSession, org_id: str) -> dict[str, Any] | None:
        org = await session.get(Organization, org_id)
        return org.default_user_preferences if org is not None else None


organizations.register(OrganizationsForUsers())
