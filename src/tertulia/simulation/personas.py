"""Persona use cases: create (with version 1), list, search, tag, soft-delete, versions."""

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
from tertulia.simulation.models import SimulationPersona, SimulationPersonaVersion

GET = "Simulation:GetSimulationPersona"


def persona_instance(p: SimulationPersona) -> s.SimulationPersonaInstance:
    return s.SimulationPersonaInstance(
        id=p.id, name=p.name, role=p.role, tags=dict(p.tags or {}), is_deleted=p.is_deleted, created_at=p.created_at,
        creator=p.creator, updated_at=p.updated_at, updated_by=p.updated_by,
    )


def _version_row(who: Principal, persona_id: str, version: int, body: s.PersonaVersionBody) -> SimulationPersonaVersion:
    now = utcnow()
    return SimulationPersonaVersion(
        org_id=who.org_id, persona_id=persona_id, version=version, background=body.background,
        preferred_language=s.given(body.preferred_language), timezone=s.given(body.timezone),
        user_models=list(body.user_models), nonsensitive_user_variables=dict(body.nonsensitive_user_variables),
        sensitive_user_variables=dict(body.sensitive_user_variables), creator=who.user_info, created_at=now,
        updated_at=now,
    )


async def require_persona(session: AsyncSession, org_id: str, persona_id: str, *, allow_deleted: bool = False) -> SimulationPersona:
    persona = await repo.get(session, SimulationPersona, org_id, persona_id)
    if persona is None or (persona.is_deleted and not allow_deleted):
        raise NotFound(f"Simulation persona {persona_id} not found.")
    return persona


async def create_persona(session: AsyncSession, who: Principal, body: s.CreateSimulationPersonaRequest) -> s.CreateSimulationPersonaResponse:
    if await repo.find_active_by_name(session, SimulationPersona, who.org_id, body.name):
        raise Conflict(f"A simulation persona named {body.name!r} already exists.")
    now = utcnow()
    persona = SimulationPersona(
        org_id=who.org_id, name=body.name, role=body.role, tags=dict(body.tags), latest_version=1,
        creator=who.user_info, updated_by=who.user_info, created_at=now, updated_at=now,
    )
    session.add(persona)
    await session.flush()
    session.add(_version_row(who, persona.id, 1, body.initial_version))
    await session.flush()
    return s.CreateSimulationPersonaResponse(simulation_persona_id=persona.id)


async def list_personas(
    session: AsyncSession, who: Principal, *, ids: list[str], is_deleted: bool | None, roles: list[str],
    creators: list[str], tags: list[str], sort_by: list[str], limit: int, offset: int,
) -> s.GetSimulationPersonasResponse:
    sort = parse_sort_by(sort_by, ["updated_at"])
    keep = RowFilter(creators, tags)
    query = select(SimulationPersona).where(SimulationPersona.org_id == who.org_id)
    if is_deleted is not None:
        query = query.where(SimulationPersona.is_deleted.is_(is_deleted))
    if ids:
        query = query.where(SimulationPersona.id.in_(ids))
    if roles:
        query = query.where(SimulationPersona.role.in_(roles))
    query = apply_sort(query, sort, {"updated_at": SimulationPersona.updated_at},
                       [SimulationPersona.created_at, SimulationPersona.id])
    rows = [p for p in (await session.scalars(query)).all() if keep(p) and who.has(GET, {"id": p.id})]
    page = page_list(rows, limit, offset)
    filter_values = None
    if offset == 0:
        every = await repo.all_rows(session, SimulationPersona, who.org_id)
        filter_values = s.PersonaFilterValues(
            creators=distinct_creators(every), tags=distinct_tags(every), roles=sorted({p.role for p in every}),
        )
    return s.GetSimulationPersonasResponse(
        simulation_personas=[persona_instance(p) for p in page.items], has_more=page.has_more,
        continuation_token=page.continuation_token, filter_values=filter_values,
    )


async def search_personas(
    session: AsyncSession, who: Principal, *, query: str, roles: list[str], creators: list[str], tags: list[str],
) -> s.SearchSimulationPersonasResponse:
    keep = RowFilter(creators, tags)
    rows = [
        p for p in await repo.all_rows(session, SimulationPersona, who.org_id, is_deleted=False)
        if (not roles or p.role in roles) and keep(p) and who.has(GET, {"id": p.id})
    ]
    latest = await repo.latest_persona_versions(session, who.org_id, rows)
    found = top_matches(query, rows, lambda p: (p.name, latest[p.id].background if p.id in latest else ""))
    return s.SearchSimulationPersonasResponse(simulation_personas=[persona_instance(p) for p in found])


async def update_persona(session: AsyncSession, who: Principal, persona_id: str, body: s.UpdateTagsRequest) -> None:
    persona = await require_persona(session, who.org_id, persona_id)
    who.require("Simulation:ModifySimulationPersona", {"id": persona.id})
    if body.tags is not None:
        persona.tags = dict(body.tags)
    persona.updated_by, persona.updated_at = who.user_info, utcnow()
    await session.flush()


async def delete_persona(session: AsyncSession, who: Principal, persona_id: str) -> None:
    persona = await require_persona(session, who.org_id, persona_id)
    who.require("Simulation:DeleteSimulationPersona", {"id": persona.id})
    users = await repo.active_unit_tests_using(session, who.org_id, persona_id=persona.id)
    if users:
        raise BadRequest(f"The simulation persona is used in the simulation unit test {users[0].name!r}.")
    persona.is_deleted = True
    persona.updated_by, persona.updated_at = who.user_info, utcnow()
    await session.flush()


async def create_version(
    session: AsyncSession, who: Principal, persona_id: str, body: s.PersonaVersionBody, expected: int | None,
) -> s.CreateVersionResponse:
    persona = await require_persona(session, who.org_id, persona_id)
    who.require("Simulation:ModifySimulationPersona", {"id": persona.id})
    next_version = persona.latest_version + 1
    if expected is not None and expected != next_version:
        raise BadRequest(f"Version {expected} is not the next version of this persona (expected {next_version}).")
    session.add(_version_row(who, persona.id, next_version, body))
    persona.latest_version = next_version
    persona.updated_by, persona.updated_at = who.user_info, utcnow()
    try:
        await session.flush()
    except IntegrityError as exc:
        raise BadRequest("Another version of this persona was created at the same time; retry.") from exc
    return s.CreateVersionResponse(version=next_version)


def version_instance(v: SimulationPersonaVersion) -> s.SimulationPersonaVersion:
    return s.SimulationPersonaVersion(
        _id=v.id, org_id=v.org_id, created_at=v.created_at, updated_at=v.updated_at, simulation_persona_id=v.persona_id,
        version=v.version, background=v.background, preferred_language=v.preferred_language, timezone=v.timezone,
        user_models=list(v.user_models or []), nonsensitive_user_variables=dict(v.nonsensitive_user_variables or {}),
        sensitive_user_variables=dict(v.sensitive_user_variables or {}), creator=v.creator,
    )


async def list_versions(
    session: AsyncSession, who: Principal, persona_id: str, selector: str | None, sort_by: list[str], limit: int,
    offset: int,
) -> s.GetSimulationPersonaVersionsResponse:
    persona = await require_persona(session, who.org_id, persona_id, allow_deleted=True)
    who.require(GET, {"id": persona.id})
    bounds = parse_version_selector(selector, persona.latest_version)
    sort = parse_sort_by(sort_by, ["version"])
    query = select(SimulationPersonaVersion).where(
        SimulationPersonaVersion.org_id == who.org_id, SimulationPersonaVersion.persona_id == persona.id
    )
    if bounds is not None:
        query = query.where(SimulationPersonaVersion.version >= bounds[0], SimulationPersonaVersion.version <= bounds[1])
    query = apply_sort(query, sort, {"version": SimulationPersonaVersion.version}, [SimulationPersonaVersion.version.desc()])
    page = await fetch_page(session, query, limit, offset)
    return s.GetSimulationPersonaVersionsResponse(
        simulation_persona_versions=[version_instance(v) for v in page.items], has_more=page.has_more,
        continuation_token=page.continuation_token,
    )
