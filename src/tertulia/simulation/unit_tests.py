"""Unit test use cases: create, list, search, update, soft-delete. A unit test names a service and version set, a
persona, a scenario, ``max_interactions`` and success criteria over metrics (the criterion's type must be the
metric's value type)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, Conflict, NotFound
from tertulia.core.paging import apply_sort, page_list, parse_sort_by
from tertulia.core.schemas import tags_to_list
from tertulia.metric.models import Metric
from tertulia.service.models import Service
from tertulia.simulation import repository as repo
from tertulia.simulation import unit_test_schemas as u
from tertulia.simulation.listing import RowFilter, distinct_creators, distinct_tags, top_matches
from tertulia.simulation.models import SimulationPersona, SimulationScenario, SimulationUnitTest

GET = "Simulation:GetSimulationUnitTest"


def instance_fields(t: SimulationUnitTest) -> dict[str, Any]:
    return dict(
        org_id=t.org_id, created_at=t.created_at, updated_at=t.updated_at, name=t.name, description=t.description,
        service_id=t.service_id, service_version_set_name=t.service_version_set_name, persona_id=t.persona_id,
        scenario_id=t.scenario_id, max_interactions=t.max_interactions,
        success_criterions=list(t.success_criterions or []), is_deleted=t.is_deleted, tags=tags_to_list(t.tags),
        creator=t.creator, updated_by=t.updated_by,
    )


async def require_unit_test(session: AsyncSession, org_id: str, unit_test_id: str) -> SimulationUnitTest:
    test = await repo.get(session, SimulationUnitTest, org_id, unit_test_id)
    if test is None or test.is_deleted:
        raise NotFound(f"Simulation unit test {unit_test_id} not found.")
    return test


async def _check_service(session: AsyncSession, org_id: str, service_id: str, version_set: str) -> None:
    service = await session.scalar(select(Service).where(Service.org_id == org_id, Service.id == service_id))
    if service is None:
        raise NotFound(f"Service {service_id} not found.")
    if version_set not in (service.version_sets or {}):
        raise NotFound(f"Service {service_id} has no version set named {version_set!r}.")


async def _check_active(session: AsyncSession, model: Any, org_id: str, row_id: str, what: str) -> None:
    row = await repo.get(session, model, org_id, row_id)
    if row is None or row.is_deleted:
        raise NotFound(f"Simulation {what} {row_id} not found.")


async def _criteria(session: AsyncSession, org_id: str, criteria: list[u.SuccessCriterion]) -> list[dict[str, Any]]:
    names = [c.name for c in criteria]
    if len(set(names)) != len(names):
        raise BadRequest("Success criterion names must be unique within a unit test.")
    out = []
    for c in criteria:
        metric = await session.scalar(select(Metric).where(Metric.org_id == org_id, Metric.id == c.metric_id))
        if metric is None or metric.is_deleted:
            raise NotFound(f"Metric {c.metric_id} not found.")
        if metric.metric_value_type != c.criterion.type:
            raise BadRequest(
                f"Success criterion {c.name!r} is {c.criterion.type} but metric {metric.name!r} is "
                f"{metric.metric_value_type}."
            )
        out.append(c.model_dump(mode="json"))
    return out


async def create_unit_test(session: AsyncSession, who: Principal, body: u.CreateSimulationUnitTestRequest) -> u.CreateSimulationUnitTestResponse:
    if await repo.find_active_by_name(session, SimulationUnitTest, who.org_id, body.name):
        raise Conflict(f"A simulation unit test named {body.name!r} already exists.")
    await _check_service(session, who.org_id, body.service_id, body.service_version_set_name)
    await _check_active(session, SimulationPersona, who.org_id, body.persona_id, "persona")
    await _check_active(session, SimulationScenario, who.org_id, body.scenario_id, "scenario")
    criteria = await _criteria(session, who.org_id, body.success_criterions)
    now = utcnow()
    test = SimulationUnitTest(
        org_id=who.org_id, name=body.name, description=body.description, service_id=body.service_id,
        service_version_set_name=body.service_version_set_name, persona_id=body.persona_id,
        scenario_id=body.scenario_id, max_interactions=body.max_interactions, success_criterions=criteria,
        tags=dict(body.tags), creator=who.user_info, updated_by=who.user_info, created_at=now, updated_at=now,
    )
    session.add(test)
    await session.flush()
    return u.CreateSimulationUnitTestResponse(simulation_unit_test_id=test.id)


def _matches(t: SimulationUnitTest, services: list[str], personas: list[str], scenarios: list[str], metrics: list[str]) -> bool:
    return (
        (not services or t.service_id in services)
        and (not personas or t.persona_id in personas)
        and (not scenarios or t.scenario_id in scenarios)
        and (not metrics or any(c.get("metric_id") in metrics for c in t.success_criterions or []))
    )


async def list_unit_tests(
    session: AsyncSession, who: Principal, *, ids: list[str], is_deleted: bool | None, services: list[str],
    personas: list[str], scenarios: list[str], metrics: list[str], creators: list[str], tags: list[str],
    sort_by: list[str], limit: int, offset: int,
) -> u.GetSimulationUnitTestsResponse:
    sort = parse_sort_by(sort_by, ["updated_at", "created_at", "name"])
    keep = RowFilter(creators, tags)
    query = select(SimulationUnitTest).where(SimulationUnitTest.org_id == who.org_id)
    if is_deleted is not None:
        query = query.where(SimulationUnitTest.is_deleted.is_(is_deleted))
    if ids:
        query = query.where(SimulationUnitTest.id.in_(ids))
    columns = {"updated_at": SimulationUnitTest.updated_at, "created_at": SimulationUnitTest.created_at,
               "name": SimulationUnitTest.name}
    query = apply_sort(query, sort, columns, [SimulationUnitTest.created_at, SimulationUnitTest.id])
    rows = [
        t for t in (await session.scalars(query)).all()
        if keep(t) and _matches(t, services, personas, scenarios, metrics) and who.has(GET, {"id": t.id})
    ]
    page = page_list(rows, limit, offset)
    filter_values = None
    if offset == 0:
        every = await repo.all_rows(session, SimulationUnitTest, who.org_id)
        filter_values = u.UnitTestFilterValues(
            creators=distinct_creators(every), tags=distinct_tags(every),
            service_ids=sorted({t.service_id for t in every}), persona_ids=sorted({t.persona_id for t in every}),
            scenario_ids=sorted({t.scenario_id for t in every}),
            metric_ids=sorted({c["metric_id"] for t in every for c in t.success_criterions or []}),
        )
    return u.GetSimulationUnitTestsResponse(
        simulation_unit_tests=[u.SimulationUnitTestInstance(id=t.id, **instance_fields(t)) for t in page.items],
        has_more=page.has_more, continuation_token=page.continuation_token, filter_values=filter_values,
    )


async def search_unit_tests(
    session: AsyncSession, who: Principal, *, query: str, creators: list[str], tags: list[str], services: list[str],
    personas: list[str], scenarios: list[str], metrics: list[str],
) -> u.SearchSimulationUnitTestsResponse:
    keep = RowFilter(creators, tags)
    rows = [
        t for t in await repo.all_rows(session, SimulationUnitTest, who.org_id, is_deleted=False)
        if keep(t) and _matches(t, services, personas, scenarios, metrics) and who.has(GET, {"id": t.id})
    ]
    found = top_matches(query, rows, lambda t: (t.name, t.description))
    return u.SearchSimulationUnitTestsResponse(
        simulation_unit_tests=[u.SimulationUnitTest(_id=t.id, **instance_fields(t)) for t in found]
    )


async def update_unit_test(session: AsyncSession, who: Principal, unit_test_id: str, body: u.UpdateSimulationUnitTestRequest) -> None:
    test = await require_unit_test(session, who.org_id, unit_test_id)
    who.require("Simulation:ModifySimulationUnitTest", {"id": test.id})
    service_id = body.service_id or test.service_id
    version_set = body.service_version_set_name or test.service_version_set_name
    if body.service_id is not None or body.service_version_set_name is not None:
        await _check_service(session, who.org_id, service_id, version_set)
    if body.persona_id is not None:
        await _check_active(session, SimulationPersona, who.org_id, body.persona_id, "persona")
    if body.scenario_id is not None:
        await _check_active(session, SimulationScenario, who.org_id, body.scenario_id, "scenario")
    if body.success_criterions is not None:
        test.success_criterions = await _criteria(session, who.org_id, body.success_criterions)
    test.service_id, test.service_version_set_name = service_id, version_set
    for field in ("description", "persona_id", "scenario_id", "max_interactions"):
        value = getattr(body, field)
        if value is not None:
            setattr(test, field, value)
    if body.tags is not None:
        test.tags = dict(body.tags)
    test.updated_by, test.updated_at = who.user_info, utcnow()
    await session.flush()


async def delete_unit_test(session: AsyncSession, who: Principal, unit_test_id: str) -> None:
    test = await require_unit_test(session, who.org_id, unit_test_id)
    who.require("Simulation:DeleteSimulationUnitTest", {"id": test.id})
    sets = await repo.sets_using_unit_test(session, who.org_id, test.id)
    if sets:
        raise BadRequest(f"The simulation unit test is used in the simulation unit test set {sets[0].name!r}.")
    test.is_deleted = True
    test.updated_by, test.updated_at = who.user_info, utcnow()
    await session.flush()
