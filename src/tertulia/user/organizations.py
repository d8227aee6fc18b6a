"""What users need to know about their organization, asked through a port the organization domain (a higher
one: it provisions users) implements and registers when imported."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Organizations(Protocol):
    async def exists(self, session: AsyncSession, org_id: str) -> bool: ...

    async def default_user_preferences(self, session: AsyncSession, org_id: str) -> dict[str, Any] | None:
        """The organization's defaults for new users; None when it has none (or does not exist)."""
        ...


_provider: list[Organizations] = []


def register(provider: Organizations) -> None:
    _provider[:] = [provider]


def organizations() -> Organizations:
    if not _provider:
        raise RuntimeError("No organization provider registered (is tertulia.organization imported?).")
    return _provider[0]
