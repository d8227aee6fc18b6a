"""HTTP routes of the simulation domain: personas and scenarios here, unit tests, sets and runs in
``unit_test_router``. List and search endpoints silently keep what the caller may ``Get`` (no 403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from tertulia.auth.deps import PrincipalDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.simulation import personas, scenarios
from tertulia.simulation import schemas as s
from tertulia.simulation.unit_test_router import routes as unit_test_routes

routes = APIRouter()

PersonaId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the simulation persona.")]
ScenarioId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the simulation scenario.")]
IdList = list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]]
StrList = Annotated[list[str], Query()]
NO_CONTENT = {"status_code": 204, "response_class": Response}


@routes.post("/simulation/persona/", operation_id="create-simulation-persona", status_code=201,
             response_model=s.CreateSimulationPersonaResponse,
             responses={409: {"description": "A simulation persona with this name already exists."}})
async def create_simulation_persona(
    body: s.CreateSimulationPersonaRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:CreateSimulationPersona", "Simulation:ModifySimulationPersona"))],
) -> s.CreateSimulationPersonaResponse:
    return await personas.create_persona(session, who, body)


@routes.get("/simulation/persona/", operation_id="get-simulation-personas", response_model=s.GetSimulationPersonasResponse)
async def get_simulation_personas(
    session: SessionDep, who: PrincipalDep,
    id: Annotated[IdList, Query()] = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=50)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    is_deleted: bool | None = None,
    role: StrList = [],  # noqa: B006
    creator: StrList = [],  # noqa: B006
    tag: StrList = [],  # noqa: B006
    sort_by: StrList = [],  # noqa: B006
) -> s.GetSimulationPersonasResponse:
    return await personas.list_personas(session, who, ids=id, is_deleted=is_deleted, roles=role, creators=creator,
                                        tags=tag, sort_by=sort_by, limit=limit, offset=continuation_token)


@routes.get("/simulation/persona/search", operation_id="search-simulation-personas",
            response_model=s.SearchSimulationPersonasResponse)
async def search_simulation_personas(
    session: SessionDep, who: PrincipalDep, query: Annotated[str, Query(min_length=1)],
    role: StrList = [], creator: StrList = [], tag: StrList = [],  # noqa: B006
) -> s.SearchSimulationPersonasResponse:
    return await personas.search_personas(session, who, query=query, roles=role, creators=creator, tags=tag)


@routes.post("/simulation/persona/{simulation_persona_id}/version/", operation_id="create-simulation-persona-version",
             status_code=201, response_model=s.CreateVersionResponse,
             responses={400: {"description": "The specified version number is not the expected next version to be created."}})
async def create_simulation_persona_version(
    simulation_persona_id: PersonaId, body: s.PersonaVersionBody, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:ModifySimulationPersona"))],
    version: Annotated[int | None, Query(gt=1)] = None,
) -> s.CreateVersionResponse:
    return await personas.create_version(session, who, simulation_persona_id, body, version)


@routes.get("/simulation/persona/{simulation_persona_id}/version/", operation_id="get-simulation-persona-versions",
            response_model=s.GetSimulationPersonaVersionsResponse)
async def get_simulation_persona_versions(
    simulation_persona_id: PersonaId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:GetSimulationPersona"))],
    version: str | None = None,
    limit: Annotated[int, Query(gt=0, le=10)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: StrList = [],  # noqa: B006
) -> s.GetSimulationPersonaVersionsResponse:
    return await personas.list_versions(session, who, simulation_persona_id, version, sort_by, limit, continuation_token)


@routes.post("/simulation/persona/{simulation_persona_id}/", operation_id="update-simulation-persona", **NO_CONTENT)
async def update_simulation_persona(
    simulation_persona_id: PersonaId, body: s.UpdateTagsRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:ModifySimulationPersona"))],
) -> Response:
    await personas.update_persona(session, who, simulation_persona_id, body)
    return Response(status_code=204)


@routes.delete("/simulation/persona/{simulation_persona_id}/", operation_id="delete-simulation-persona", **NO_CONTENT,
               responses={400: {"description": "The specified simulation persona is used in a simulation unit test."}})
async def delete_simulation_persona(
    simulation_persona_id: PersonaId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:DeleteSimulationPersona"))],
) -> Response:
    await personas.delete_persona(session, who, simulation_persona_id)
    return Response(status_code=204)


@routes.post("/simulation/scenario/", operation_id="create-simulation-scenario", status_code=201,
             response_model=s.CreateSimulationScenarioResponse,
             responses={409: {"description": "A simulation scenario with this name already exists."}})
async def create_simulation_scenario(
    body: s.CreateSimulationScenarioRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:CreateSimulationScenario", "Simulation:ModifySimulationScenario"))],
) -> s.CreateSimulationScenarioResponse:
    return await scenarios.create_scenario(session, who, body)


@routes.get("/simulation/scenario/", operation_id="get-simulation-scenarios", response_model=s.GetSimulationScenariosResponse)
async def get_simulation_scenarios(
    session: SessionDep, who: PrincipalDep,
    id: Annotated[IdList, Query()] = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=200)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    is_deleted: bool | None = None,
    creator: StrList = [],  # noqa: B006
    tag: StrList = [],  # noqa: B006
    sort_by: StrList = [],  # noqa: B006
) -> s.GetSimulationScenariosResponse:
    return await scenarios.list_scenarios(session, who, ids=id, is_deleted=is_deleted, creators=creator, tags=tag,
                                          sort_by=sort_by, limit=limit, offset=continuation_token)


@routes.get("/simulation/scenario/search", operation_id="search-simulation-scenarios",
            response_model=s.SearchSimulationScenariosResponse)
async def search_simulation_scenarios(
    session: SessionDep, who: PrincipalDep, query: Annotated[str, Query(min_length=1)],
    creator: StrList = [], tag: StrList = [],  # noqa: B006
) -> s.SearchSimulationScenariosResponse:
    return await scenarios.search_scenarios(session, who, query=query, creators=creator, tags=tag)


@routes.get("/simulation/scenario/{simulation_scenario_id}/version/", operation_id="get-simulation-scenario-versions",
            response_model=s.GetSimulationScenarioVersionsResponse)
async def get_simulation_scenario_versions(
    simulation_scenario_id: ScenarioId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:GetSimulationScenario"))],
    version: str | None = None,
    limit: Annotated[int, Query(gt=0, le=10)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: StrList = [],  # noqa: B006
) -> s.GetSimulationScenarioVersionsResponse:
    return await scenarios.list_versions(session, who, simulation_scenario_id, version, sort_by, limit, continuation_token)


@routes.post("/simulation/scenario/{simulation_scenario_id}/version/", operation_id="create-simulation-scenario-version",
             status_code=201, response_model=s.CreateVersionResponse,
             responses={400: {"description": "The specified version number is not the expected next version to be created."}})
async def create_simulation_scenario_version(
    simulation_scenario_id: ScenarioId, body: s.ScenarioVersionBody, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:ModifySimulationScenario"))],
    version: Annotated[int | None, Query(gt=1)] = None,
) -> s.CreateVersionResponse:
    return await scenarios.create_version(session, who, simulation_scenario_id, body, version)


@routes.post("/simulation/scenario/{simulation_scenario_id}/", operation_id="update-simulation-scenario", **NO_CONTENT)
async def update_simulation_scenario(
    simulation_scenario_id: ScenarioId, body: s.UpdateTagsRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:ModifySimulationScenario"))],
) -> Response:
    await scenarios.update_scenario(session, who, simulation_scenario_id, body)
    return Response(status_code=204)


@routes.delete("/simulation/scenario/{simulation_scenario_id}/", operation_id="delete-simulation-scenario", **NO_CONTENT,
               responses={400: {"description": "The specified simulation scenario is used in a simulation unit test."}})
async def delete_simulation_scenario(
    simulation_scenario_id: ScenarioId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:DeleteSimulationScenario"))],
) -> Response:
    await scenarios.delete_scenario(session, who, simulation_scenario_id)
    return Response(status_code=204)


router = domain_router("Simulation")
router.include_router(routes)
router.include_router(unit_test_routes)
