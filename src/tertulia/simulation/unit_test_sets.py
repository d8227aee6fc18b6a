"""Unit test set use cases: create, list, search, update, delete (soft). A set lists unit tests, each with a
``run_count`` (how many simulated conversations a run of the set makes for it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, Conflict, NotFound
from tertulia.core.paging import apply_sort, page_list, parse_sort_by
from tertulia.core.schemas import tags_to_list
from tertulia.simulation import repository as repo
from tertulia.simulation import unit_test_schemas as u
from tertulia.simulation.listing import RowFilter, distinct_creators, distinct_tags, top_matches
from tertulia.simulation.models import SimulationUnitTest, SimulationUnitTestSet
from tertulia.simulation.schemas import NotSet

GET = "Simulation:GetSimulationUnitTestSet"


def instance_fields(t: SimulationUnitTestSet) -> dict[str, Any]:
    return dict(
        org_id=t.org_id, created_at=t.created_at, updated_at=t.updated_at, name=t.name, description=t.description,
        unit_test_runs=list(t.unit_test_runs or []), last_triggered_run_id=t.last_triggered_run_id,
        is_deleted=t.is_deleted, tags=tags_to_list(t.tags), creator=t.creator, updated_by=t.updated_by,
    )


async def require_set(session: AsyncSession, org_id: str, set_id: str) -> SimulationUnitTestSet:
    row = await repo.get(session, SimulationUnitTestSet, org_id, set_id)
    if row is None or row.is_deleted:
        raise NotFound(f"Simulation unit test set {set_id} not found.")
    return row


async def _runs(session: AsyncSession, org_id: str, runs: list[u.UnitTestRunDescriptor]) -> list[dict[str, Any]]:
    ids = [r.unit_test_id for r in runs]
    if len(set(ids)) != len(ids):
        raise BadRequest("A unit test may appear only once in a unit test set.")
    for unit_test_id in ids:
        test = await repo.get(session, SimulationUnitTest, org_id, unit_test_id)
        if test is None or test.is_deleted:
            raise NotFound(f"Simulation unit test {unit_test_id} not found.")
    return [r.model_dump(mode="json") for r in runs]


async def create_set(session: AsyncSession, who: Principal, body: u.CreateSimulationUnitTestSetRequest) -> u.CreateSimulationUnitTestSetResponse:
    if await repo.find_active_by_name(session, SimulationUnitTestSet, who.org_id, body.name):
        raise Conflict(f"A simulation unit test set named {body.name!r} already exists.")
    now = utcnow()
    row = SimulationUnitTestSet(
        org_id=who.org_id, name=body.name, description=body.description,
        unit_test_runs=await _runs(session, who.org_id, body.unit_test_runs), tags=dict(body.tags),
        creator=who.user_info, updated_by=who.user_info, created_at=now, updated_at=now,
    )
    session.add(row)
    await session.flush()
    return u.CreateSimulationUnitTestSetResponse(simulation_unit_test_set_id=row.id)


def _has_tests(row: SimulationUnitTestSet, unit_test_ids: list[str]) -> bool:
    return not unit_test_ids or any(d.get("unit_test_id") in unit_test_ids for d in row.unit_test_runs or [])


async def list_sets(
    session: AsyncSession, who: Principal, *, ids: list[str], is_deleted: bool | None, unit_test_ids: list[str],
    creators: list[str], tags: list[str], sort_by: list[str], limit: int, offset: int,
) -> u.GetSimulationUnitTestSetsResponse:
    sort = parse_sort_by(sort_by, ["updated_at", "created_at", "name"])
    keep = RowFilter(creators, tags)
    model = SimulationUnitTestSet
    query = select(model).where(model.org_id == who.org_id)
    if is_deleted is not None:
        query = query.where(model.is_deleted.is_(is_deleted))
    if ids:
        query = query.where(model.id.in_(ids))
    columns = {"updated_at": model.updated_at, "created_at": model.created_at, "name": model.name}
    query = apply_sort(query, sort, columns, [model.created_at, model.id])
    rows = [
        t for t in (await session.scalars(query)).all()
        if keep(t) and _has_tests(t, unit_test_ids) and who.has(GET, {"id": t.id})
    ]
    page = page_list(rows, limit, offset)
    filter_values = None
    if offset == 0:
        every = await repo.all_rows(session, model, who.org_id)
        filter_values = u.UnitTestSetFilterValues(
            creators=distinct_creators(every), tags=distinct_tags(every),
            unit_test_ids=sorted({d["unit_test_id"] for t in every for d in t.unit_test_runs or []}),
        )
    return u.GetSimulationUnitTestSetsResponse(
        simulation_unit_test_sets=[u.SimulationUnitTestSetInstance(id=t.id, **instance_fields(t)) for t in page.items],
        has_more=page.has_more, continuation_token=page.continuation_token, filter_values=filter_values,
    )


async def search_sets(
    session: AsyncSession, who: Principal, *, query: str, creators: list[str], tags: list[str], unit_test_ids: list[str],
) -> u.SearchSimulationUnitTestSetsResponse:
    keep = RowFilter(creators, tags)
    rows = [
        t for t in await repo.all_rows(session, SimulationUnitTestSet, who.org_id, is_deleted=False)
        if keep(t) and _has_tests(t, unit_test_ids) and who.has(GET, {"id": t.id})
    ]
    found = top_matches(query, rows, lambda t: (t.name, t.description or ""))
    return u.SearchSimulationUnitTestSetsResponse(
        simulation_unit_test_sets=[u.SimulationUnitTestSet(_id=t.id, **instance_fields(t)) for t in found]
    )


async def update_set(session: AsyncSession, who: Principal, set_id: str, body: u.UpdateSimulationUnitTestSetRequest) -> None:
    row = await require_set(session, who.org_id, set_id)
    who.require("Simulation:ModifySimulationUnitTestSet", {"id": row.id})
    if body.name is not None and body.name != row.name:
        if await repo.find_active_by_name(session, SimulationUnitTestSet, who.org_id, body.name):
            raise Conflict(f"A simulation unit test set named {body.name!r} already exists.")
        row.name = body.name
    if not isinstance(body.description, NotSet):
        row.description = body.description
    if body.unit_test_runs is not None:
        row.unit_test_runs = await _runs(session, who.org_id, body.unit_test_runs)
    if body.tags is not None:
        row.tags = dict(body.tags)
    row.updated_by, row.updated_at = who.user_info, utcnow()
    await session.flush()


async def delete_set(session: AsyncSession, who: Principal, set_id: str) -> None:
    row = await require_set(session, who.org_id, set_id)
    who.require("Simulation:DeleteSimulationUnitTestSet", {"id": row.id})
    row.is_deleted = True
    row.updated_by, row.updated_at = who.user_info, utcnow()
    await session.flush()
