"""API keys as role holders (``role.holders.RoleHolders``), registered when the api_key package is imported."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.api_key.models import ApiKey
from tertulia.role import holders


class ApiKeyRoles:
    async def role_of(self, session: AsyncSession, org_id: str, holder_id: str) -> str | None:
        return await session.scalar(select(ApiKey.role_id).where(ApiKey.org_id == org_id, ApiKey.key_id == holder_id))

    async def set_role(self, session: AsyncSession, org_id: str, holder_id: str, role_id: str) -> None:
        await session.execute(
            update(ApiKey).where(ApiKey.org_id == org_id, ApiKey.key_id == holder_id).values(role_id=role_id)
        )

    async def move_all(self, session: AsyncSession, org_id: str, old_role_id: str, new_role_id: str) -> None:
        await session.execute(
            update(ApiKey).where(ApiKey.org_id == org_id, ApiKey.role_id == old_role_id).values(role_id=new_role_id)
        )


holders.register("api_key", ApiKeyRoles())
