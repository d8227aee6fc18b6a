"""Deleting a metric that an active unit test's success criterion uses answers 400 (``delete-metric``): the check is
registered with the metric domain, which needs no import of this one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.metric.usage import register_usage_check
from tertulia.simulation.repository import unit_tests_using_metric


async def used_by_unit_test(session: AsyncSession, org_id: str, metric_id: str) -> str | None:
    users = await unit_tests_using_metric(session, org_id, metric_id)
    return f"The metric is used in the simulation unit test {users[0].name!r}." if users else None


register_usage_check(used_by_unit_test)
