"""Who holds roles: users and API keys. Those live in higher domains (``user``, ``api_key``); each implements this
port and registers it when its package is imported, so the role domain moves and assigns holders without importing
them (the app imports every domain before it serves).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class RoleHolders(Protocol):
    async def role_of(self, session: AsyncSession, org_id: str, holder_id: str) -> str | None:
        """The holder's role id; None when there is no such holder."""
        ...

    async def set_role(self, session: AsyncSession, org_id: str, holder_id: str, role_id: str) -> None: ...

    async def move_all(self, session: AsyncSession, org_id: str, old_role_id: str, new_role_id: str) -> None:
        """Every holder of ``old_role_id`` switches to ``new_role_id``."""
        ...


_registered: dict[str, RoleHolders] = {}


def register(kind: str, holders: RoleHolders) -> None:
    _registered[kind] = holders


def of(kind: str) -> RoleHolders:
    holders = _registered.get(kind)
    if holders is None:
        raise RuntimeError(f"No role holders registered for {kind!r} (is its domain imported?).")
    return holders


async def move_all(session: AsyncSession, org_id: str, old_role_id: str, new_role_id: str) -> None:
    """Every user and API key on ``old_role_id`` switches to ``new_role_id``."""
    for kind in ("user", "api_key"):
        await of(kind).move_all(session, org_id, old_role_id, new_role_id)
