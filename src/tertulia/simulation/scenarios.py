"""Scenario use cases: create (with version 1), list, search, tag, soft-delete, versions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, Conflict, NotFound
from tertulia.core.paging import apply_sort, fetch_page, page_list, parse_sort_by
from tertulia.core.versions import parse_version_selector
from tertulia.simulation import repository as repo
from tertulia.simulation import schemas as s
from tertulia.simulation.listing import RowFilter, distinct_creators, distinct_tags, top_matches
from tertulia.simulation.models import SimulationScenario, SimulationScenarioVersion

GET = "Simulation:GetSimulationScenario"


def scenario_instance(p: SimulationScenario) -> s.SimulationScenarioInstance:
    return s.SimulationScenarioInstance(
        id=p.id, name=p.name, tags=dict(p.tags or {}), is_deleted=p.is_deleted, created_at=p.created_at,
        creator=p.creator, updated_at=p.updated_at, updated_by=p.updated_by,
    )


def _version_row(who: Principal, scenario_id: str, version: int, body: s.ScenarioVersionBody) -> SimulationScenarioVersion:
    now = utcnow()
    return SimulationScenarioVersion(
        org_id=who.org_id, scenario_id=scenario_id, version=version, objective=body.objective,
        instructions=body.instructions, initial_message_type=body.initial_message_type,
        conversation_starts_at=body.conversation_starts_at, creator=who.user_info, created_at=now, updated_at=now,
    )


async def require_scenario(session: AsyncSession, org_id: str, scenario_id: str, *, allow_deleted: bool = False) -> SimulationScenario:
    scenario = await repo.get(session, SimulationScenario, org_id, scenario_id)
    if scenario is None or (scenario.is_deleted and not allow_deleted):
        raise NotFound(f"Simulation scenario {scenario_id} not found.")
    return scenario


async def create_scenario(session: AsyncSession, who: Principal, body: s.CreateSimulationScenarioRequest) -> s.CreateSimulationScenarioResponse:
    if await repo.find_active_by_name(session, SimulationScenario, who.org_id, body.name):
        raise Conflict(f"A simulation scenario named {body.name!r} already exists.")
    now = utcnow()
    scenario = SimulationScenario(
        org_id=who.org_id, name=body.name, tags=dict(body.tags), latest_version=1, creator=who.user_info,
        updated_by=who.user_info, created_at=now, updated_at=now,
    )
    session.add(scenario)
    await session.flush()
    session.add(_version_row(who, scenario.id, 1, body.initial_version))
    await session.flush()
    return s.CreateSimulationScenarioResponse(simulation_scenario_id=scenario.id)


async def list_scenarios(
    session: AsyncSession, who: Principal, *, ids: list[str], is_deleted: bool | None, creators: list[str],
    tags: list[str], sort_by: list[str], limit: int, offset: int,
) -> s.GetSimulationScenariosResponse:
    sort = parse_sort_by(sort_by, ["updated_at"])
    keep = RowFilter(creators, tags)
    query = select(SimulationScenario).where(SimulationScenario.org_id == who.org_id)
    if is_deleted is not None:
        query = query.where(SimulationScenario.is_deleted.is_(is_deleted))
    if ids:
        query = query.where(SimulationScenario.id.in_(ids))
    query = apply_sort(query, sort, {"updated_at": SimulationScenario.updated_at},
                       [SimulationScenario.created_at, SimulationScenario.id])
    rows = [p for p in (await session.scalars(query)).all() if keep(p) and who.has(GET, {"id": p.id})]
    page = page_list(rows, limit, offset)
    filter_values = None
    if offset == 0:
        every = await repo.all_rows(session, SimulationScenario, who.org_id)
        filter_values = s.ScenarioFilterValues(creators=distinct_creators(every), tags=distinct_tags(every))
    return s.GetSimulationScenariosResponse(
        simulation_scenarios=[scenario_instance(p) for p in page.items], has_more=page.has_more,
        continuation_token=page.continuation_token, filter_values=filter_values,
    )


async def search_scenarios(
    session: AsyncSession, who: Principal, *, query: str, creators: list[str], tags: list[str],
) -> s.SearchSimulationScenariosResponse:
    keep = RowFilter(creators, tags)
    rows = [
        p for p in await repo.all_rows(session, SimulationScenario, who.org_id, is_deleted=False)
        if keep(p) and who.has(GET, {"id": p.id})
    ]
    found = top_matches(query, rows, lambda p: (p.name,))
    return s.SearchSimulationScenariosResponse(simulation_scenarios=[scenario_instance(p) for p in found])


async def update_scenario(session: AsyncSession, who: Principal, scenario_id: str, body: s.UpdateTagsRequest) -> None:
    scenario = await require_scenario(session, who.org_id, scenario_id)
    who.require("Simulation:ModifySimulationScenario", {"id": scenario.id})
    if body.tags is not None:
        scenario.tags = dict(body.tags)
    scenario.updated_by, scenario.updated_at = who.user_info, utcnow()
    await session.flush()


async def delete_scenario(session: AsyncSession, who: Principal, scenario_id: str) -> None:
    scenario = await require_scenario(session, who.org_id, scenario_id)
    who.require("Simulation:DeleteSimulationScenario", {"id": scenario.id})
    users = await repo.active_unit_tests_using(session, who.org_id, scenario_id=scenario.id)
    if users:
        raise BadRequest(f"The simulation scenario is used in the simulation unit test {users[0].name!r}.")
    scenario.is_deleted = True
    scenario.updated_by, scenario.updated_at = who.user_info, utcnow()
    await session.flush()


async def create_version(
    session: AsyncSession, who: Principal, scenario_id: str, body: s.ScenarioVersionBody, expected: int | None,
) -> s.CreateVersionResponse:
    scenario = await require_scenario(session, who.org_id, scenario_id)
    who.require("Simulation:ModifySimulationScenario", {"id": scenario.id})
    next_version = scenario.latest_version + 1
    if expected is not None and expected != next_version:
        raise BadRequest(f"Version {expected} is not the next version of this scenario (expected {next_version}).")
    session.add(_version_row(who, scenario.id, next_version, body))
    scenario.latest_version = next_version
    scenario.updated_by, scenario.updated_at = who.user_info, utcnow()
    try:
        await session.flush()
    except IntegrityError as exc:
        raise BadRequest("Another version of this scenario was created at the same time; retry.") from exc
    return s.CreateVersionResponse(version=next_version)


def version_instance(v: SimulationScenarioVersion) -> s.SimulationScenarioVersion:
    return s.SimulationScenarioVersion(
        _id=v.id, org_id=v.org_id, created_at=v.created_at, updated_at=v.updated_at,
        simulation_scenario_id=v.scenario_id, version=v.version, objective=v.objective, instructions=v.instructions,
        initial_message_type=v.initial_message_type, conversation_starts_at=v.conversation_starts_at,  # type: ignore[arg-type]
        creator=v.creator,
    )


async def list_versions(
    session: AsyncSession, who: Principal, scenario_id: str, selector: str | None, sort_by: list[str], limit: int,
    offset: int,
) -> s.GetSimulationScenarioVersionsResponse:
    scenario = await require_scenario(session, who.org_id, scenario_id, allow_deleted=True)
    who.require(GET, {"id": scenario.id})
    bounds = parse_version_selector(selector, scenario.latest_version)
    sort = parse_sort_by(sort_by, ["version"])
    model = SimulationScenarioVersion
    query = select(model).where(model.org_id == who.org_id, model.scenario_id == scenario.id)
    if bounds is not None:
        query = query.where(model.version >= bounds[0], model.version <= bounds[1])
    query = apply_sort(query, sort, {"version": model.version}, [model.version.desc()])
    page = await fetch_page(session, query, limit, offset)
    return s.GetSimulationScenarioVersionsResponse(
        simulation_scenario_versions=[version_instance(v) for v in page.items], has_more=page.has_more,
        continuation_token=page.continuation_token,
    )
