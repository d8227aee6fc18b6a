"""Who still uses a metric: deleting one is refused (400) while a user registered here says it is in use.

Domains that reference metrics (simulation unit tests) register a check at import, so the metric domain needs no
import of theirs (no cycle): ``register_usage_check(fn)`` where ``fn(session, org_id, metric_id)`` answers a reason
(the metric is in use) or None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.core.errors import BadRequest

UsageCheck = Callable[[AsyncSession, str, str], Awaitable[str | None]]
_CHECKS: list[UsageCheck] = []


def register_usage_check(check: UsageCheck) -> None:
    if check not in _CHECKS:
        _CHECKS.append(check)


async def ensure_not_used(session: AsyncSession, org_id: str, metric_id: str) -> None:
    for check in _CHECKS:
        reason = await check(session, org_id, metric_id)
        if reason:
            raise BadRequest(reason)
