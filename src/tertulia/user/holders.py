"""Users as role holders (``role.holders.RoleHolders``), registered when the user package is imported."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.role import holders
from tertulia.user.models import User


class UserRoles:
    async def role_of(self, session: AsyncSession, org_id: str, holder_id: str) -> str | None:
        return await session.scalar(select(User.role_id).where(User.org_id == org_id, User.user_id == holder_id))

    async def set_role(self, session: AsyncSession, org_id: str, holder_id: str, role_id: str) -> None:
        await session.execute(
            update(User).where(User.org_id == org_id, User.user_id == holder_id).values(role_id=role_id)
        )

    async def move_all(self, session: AsyncSession, org_id: str, old_role_id: str, new_role_id: str) -> None:
        await session.execute(
            update(User).where(User.org_id == org_id, User.role_id == old_role_id).values(role_id=new_role_id)
        )


holders.register("user", UserRoles())
