"""Simulation queries; every one is scoped to an organization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.simulation.models import (
    SimulationPersona,
    SimulationPersonaVersion,
    SimulationRunItem,
    SimulationScenario,
    SimulationScenarioVersion,
    SimulationUnitTest,
    SimulationUnitTestSet,
    SimulationUnitTestSetRun,
)

T = TypeVar("T")


async def get(session: AsyncSession, model: type[T], org_id: str, row_id: str, *, lock: bool = False) -> T | None:
    query = select(model).where(model.org_id == org_id, model.id == row_id)  # type: ignore[attr-defined]
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def find_active_by_name(session: AsyncSession, model: type[T], org_id: str, name: str) -> T | None:
    return await session.scalar(
        select(model).where(model.org_id == org_id, model.name == name, model.is_deleted.is_(False))  # type: ignore[attr-defined]
    )


async def all_rows(session: AsyncSession, model: type[T], org_id: str, *, is_deleted: bool | None = None,
                   ids: Sequence[str] = (), order: Sequence[Any] = ()) -> list[T]:
    query = select(model).where(model.org_id == org_id)  # type: ignore[attr-defined]
    if is_deleted is not None:
        query = query.where(model.is_deleted.is_(is_deleted))  # type: ignore[attr-defined]
    if ids:
        query = query.where(model.id.in_(list(ids)))  # type: ignore[attr-defined]
    query = query.order_by(*order, model.created_at, model.id)  # type: ignore[attr-defined]
    return list((await session.scalars(query)).all())


async def persona_version(session: AsyncSession, org_id: str, persona_id: str, version: int) -> SimulationPersonaVersion | None:
    return await session.scalar(select(SimulationPersonaVersion).where(
        SimulationPersonaVersion.org_id == org_id, SimulationPersonaVersion.persona_id == persona_id,
        SimulationPersonaVersion.version == version,
    ))


async def scenario_version(session: AsyncSession, org_id: str, scenario_id: str, version: int) -> SimulationScenarioVersion | None:
    return await session.scalar(select(SimulationScenarioVersion).where(
        SimulationScenarioVersion.org_id == org_id, SimulationScenarioVersion.scenario_id == scenario_id,
        SimulationScenarioVersion.version == version,
    ))


async def latest_persona_versions(session: AsyncSession, org_id: str, personas: Sequence[SimulationPersona]) -> dict[str, SimulationPersonaVersion]:
    if not personas:
        return {}
    rows = (await session.scalars(select(SimulationPersonaVersion).where(
        SimulationPersonaVersion.org_id == org_id,
        SimulationPersonaVersion.persona_id.in_([p.id for p in personas]),
    ))).all()
    latest = {p.id: p.latest_version for p in personas}
    return {r.persona_id: r for r in rows if latest.get(r.persona_id) == r.version}


async def active_unit_tests_using(session: AsyncSession, org_id: str, **column: str) -> list[SimulationUnitTest]:
    ((name, value),) = column.items()
    return list((await session.scalars(select(SimulationUnitTest).where(
        SimulationUnitTest.org_id == org_id, SimulationUnitTest.is_deleted.is_(False),
        getattr(SimulationUnitTest, name) == value,
    ))).all())


async def unit_tests_using_metric(session: AsyncSession, org_id: str, metric_id: str) -> list[SimulationUnitTest]:
    rows = await all_rows(session, SimulationUnitTest, org_id, is_deleted=False)
    return [t for t in rows if any(c.get("metric_id") == metric_id for c in t.success_criterions or [])]


async def sets_using_unit_test(session: AsyncSession, org_id: str, unit_test_id: str) -> list[SimulationUnitTestSet]:
    rows = await all_rows(session, SimulationUnitTestSet, org_id, is_deleted=False)
    return [s for s in rows if any(d.get("unit_test_id") == unit_test_id for d in s.unit_test_runs or [])]


async def run_items(session: AsyncSession, org_id: str, run_ids: Sequence[str]) -> list[SimulationRunItem]:
    if not run_ids:
        return []
    return list((await session.scalars(select(SimulationRunItem).where(
        SimulationRunItem.org_id == org_id, SimulationRunItem.run_id.in_(list(run_ids)),
    ).order_by(SimulationRunItem.position))).all())


async def run_item(session: AsyncSession, org_id: str, run_id: str, position: int) -> SimulationRunItem | None:
    return await session.scalar(select(SimulationRunItem).where(
        SimulationRunItem.org_id == org_id, SimulationRunItem.run_id == run_id, SimulationRunItem.position == position,
    ))


async def runs(session: AsyncSession, org_id: str) -> list[SimulationUnitTestSetRun]:
    return list((await session.scalars(select(SimulationUnitTestSetRun).where(
        SimulationUnitTestSetRun.org_id == org_id,
    ).order_by(SimulationUnitTestSetRun.created_at.desc(), SimulationUnitTestSetRun.id.desc()))).all())
