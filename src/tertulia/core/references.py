"""References between domains that the referenced domain cannot query itself without an import cycle.

A lower domain (an agent, a context graph, a dynamic behavior set) must sometimes ask about rows of a higher one
(is an active service using this agent? do these services exist?). The higher domain registers the answer at import
(``service/__init__.py``); the lower one asks here. The app imports every domain before serving, so the checks are
in place for every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

UsageCheck = Callable[[AsyncSession, str, str], Awaitable[None]]  # (session, org_id, resource id); raises when in use
Finder = Callable[[AsyncSession, str, Sequence[str]], Awaitable[set[str]]]  # which of the ids exist in the org

_usage: dict[str, list[UsageCheck]] = {}
_finders: dict[str, Finder] = {}


def register_usage_check(kind: str, check: UsageCheck) -> None:
    if check not in _usage.setdefault(kind, []):
        _usage[kind].append(check)


async def ensure_unused(session: AsyncSession, org_id: str, kind: str, resource_id: str) -> None:
    """Raise (the registered check's error) when something still uses the resource."""
    for check in _usage.get(kind, []):
        await check(session, org_id, resource_id)


def register_finder(kind: str, finder: Finder) -> None:
    _finders[kind] = finder


async def existing(session: AsyncSession, org_id: str, kind: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` exist as ``kind`` rows of the organization."""
    finder = _finders.get(kind)
    if finder is None:
        raise RuntimeError(f"No finder registered for {kind!r} (is its domain imported?).")
    return await finder(session, org_id, ids)
