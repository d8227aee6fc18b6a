"""HTTP routes of unit tests, unit test sets and unit test set runs (included by ``simulation.router``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from tertulia.auth.deps import PrincipalDep, RuntimeDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.simulation import run_views, runs, unit_test_sets, unit_tests
from tertulia.simulation import unit_test_schemas as u

routes = APIRouter()

UnitTestId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the simulation unit test.")]
SetId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the simulation unit test set.")]
RunId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the simulation unit test set run.")]
IdList = Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]], Query()]
StrList = Annotated[list[str], Query()]
NO_CONTENT = {"status_code": 204, "response_class": Response}


@routes.post("/simulation/unit_test/", operation_id="create-simulation-unit-test", status_code=201,
             response_model=u.CreateSimulationUnitTestResponse,
             responses={400: {"description": "The metric type of the success criterion does not match the metric's."},
                        409: {"description": "A unit test with this name already exists."}})
async def create_simulation_unit_test(
    body: u.CreateSimulationUnitTestRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:CreateSimulationUnitTest"))],
) -> u.CreateSimulationUnitTestResponse:
    return await unit_tests.create_unit_test(session, who, body)


@routes.get("/simulation/unit_test/", operation_id="get-simulation-unit-tests", response_model=u.GetSimulationUnitTestsResponse)
async def get_simulation_unit_tests(
    session: SessionDep, who: PrincipalDep,
    id: IdList = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=500)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    is_deleted: bool | None = None,
    service_id: IdList = [], persona_id: IdList = [], scenario_id: IdList = [], metric_id: IdList = [],  # noqa: B006
    creator: StrList = [], tag: StrList = [], sort_by: StrList = [],  # noqa: B006
) -> u.GetSimulationUnitTestsResponse:
    return await unit_tests.list_unit_tests(
        session, who, ids=id, is_deleted=is_deleted, services=service_id, personas=persona_id, scenarios=scenario_id,
        metrics=metric_id, creators=creator, tags=tag, sort_by=sort_by, limit=limit, offset=continuation_token,
    )


@routes.get("/simulation/unit_test/search/", operation_id="search-simulation-unit-tests",
            response_model=u.SearchSimulationUnitTestsResponse, response_model_by_alias=True)
async def search_simulation_unit_tests(
    session: SessionDep, who: PrincipalDep, query: Annotated[str, Query(min_length=1)],
    creator: StrList = [], tag: StrList = [],  # noqa: B006
    service_id: IdList = [], persona_id: IdList = [], scenario_id: IdList = [], metric_id: IdList = [],  # noqa: B006
) -> u.SearchSimulationUnitTestsResponse:
    return await unit_tests.search_unit_tests(
        session, who, query=query, creators=creator, tags=tag, services=service_id, personas=persona_id,
        scenarios=scenario_id, metrics=metric_id,
    )


@routes.post("/simulation/unit_test/{simulation_unit_test_id}/", operation_id="update-simulation-unit-test", **NO_CONTENT,
             responses={400: {"description": "The metric type of the success criterion does not match the metric's."}})
async def update_simulation_unit_test(
    simulation_unit_test_id: UnitTestId, body: u.UpdateSimulationUnitTestRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:ModifySimulationUnitTest"))],
) -> Response:
    await unit_tests.update_unit_test(session, who, simulation_unit_test_id, body)
    return Response(status_code=204)


@routes.delete("/simulation/unit_test/{simulation_unit_test_id}/", operation_id="delete-simulation-unit-test", **NO_CONTENT,
               responses={400: {"description": "The specified simulation unit test is used in a simulation unit test set."}})
async def delete_simulation_unit_test(
    simulation_unit_test_id: UnitTestId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:DeleteSimulationUnitTest"))],
) -> Response:
    await unit_tests.delete_unit_test(session, who, simulation_unit_test_id)
    return Response(status_code=204)


@routes.get("/simulation/unit_test_set/", operation_id="get-simulation-unit-test-sets",
            response_model=u.GetSimulationUnitTestSetsResponse)
async def get_simulation_unit_test_sets(
    session: SessionDep, who: PrincipalDep,
    id: IdList = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=20)] = 20,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    is_deleted: bool | None = None,
    unit_test_id: IdList = [], creator: StrList = [], tag: StrList = [], sort_by: StrList = [],  # noqa: B006
) -> u.GetSimulationUnitTestSetsResponse:
    return await unit_test_sets.list_sets(
        session, who, ids=id, is_deleted=is_deleted, unit_test_ids=unit_test_id, creators=creator, tags=tag,
        sort_by=sort_by, limit=limit, offset=continuation_token,
    )


@routes.post("/simulation/unit_test_set/", operation_id="create-simulation-unit-test-set", status_code=201,
             response_model=u.CreateSimulationUnitTestSetResponse,
             responses={409: {"description": "A simulation unit test set with the same name already exists."}})
async def create_simulation_unit_test_set(
    body: u.CreateSimulationUnitTestSetRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:CreateSimulationUnitTestSet"))],
) -> u.CreateSimulationUnitTestSetResponse:
    return await unit_test_sets.create_set(session, who, body)


@routes.get("/simulation/unit_test_set/search/", operation_id="search-simulation-unit-test-sets",
            response_model=u.SearchSimulationUnitTestSetsResponse, response_model_by_alias=True)
async def search_simulation_unit_test_sets(
    session: SessionDep, who: PrincipalDep, query: Annotated[str, Query(min_length=1)],
    creator: StrList = [], tag: StrList = [], unit_test_id: IdList = [],  # noqa: B006
) -> u.SearchSimulationUnitTestSetsResponse:
    return await unit_test_sets.search_sets(session, who, query=query, creators=creator, tags=tag,
                                            unit_test_ids=unit_test_id)


@routes.post("/simulation/unit_test_set/{simulation_unit_test_set_id}", operation_id="update-simulation-unit-test-set",
             **NO_CONTENT, responses={409: {"description": "A simulation unit test set with this name already exists."}})
async def update_simulation_unit_test_set(
    simulation_unit_test_set_id: SetId, body: u.UpdateSimulationUnitTestSetRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:ModifySimulationUnitTestSet"))],
) -> Response:
    await unit_test_sets.update_set(session, who, simulation_unit_test_set_id, body)
    return Response(status_code=204)


@routes.delete("/simulation/unit_test_set/{simulation_unit_test_set_id}", operation_id="delete-simulation-unit-test-set",
               **NO_CONTENT)
async def delete_simulation_unit_test_set(
    simulation_unit_test_set_id: SetId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:DeleteSimulationUnitTestSet"))],
) -> Response:
    await unit_test_sets.delete_set(session, who, simulation_unit_test_set_id)
    return Response(status_code=204)


@routes.get("/simulation/unit_test_set_run/", operation_id="get-simulation-unit-test-set-runs",
            response_model=u.GetSimulationUnitTestSetRunsResponse)
async def get_simulation_unit_test_set_runs(
    session: SessionDep, who: PrincipalDep,
    id: IdList = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=50)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    creator: StrList = [], sort_by: StrList = [], simulation_unit_test_set_id: IdList = [],  # noqa: B006
    is_completed: bool | None = None, failed_metrics: bool | None = None, errored: bool | None = None,
    created_after: datetime | None = None, created_before: datetime | None = None,
) -> u.GetSimulationUnitTestSetRunsResponse:
    return await run_views.list_runs(
        session, who, ids=id, creators=creator, sort_by=sort_by, set_ids=simulation_unit_test_set_id,
        is_completed=is_completed, failed_metrics=failed_metrics, errored=errored, created_after=created_after,
        created_before=created_before, limit=limit, offset=continuation_token,
    )


@routes.post("/simulation/unit_test_set_run/", operation_id="create-simulation-unit-test-set-run", status_code=201,
             response_model=u.CreateSimulationUnitTestSetRunResponse,
             responses={409: {"description": "The user already has an unfinished run for this simulation unit test set."}})
async def create_simulation_unit_test_set_run(
    body: u.CreateSimulationUnitTestSetRunRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:CreateSimulationUnitTestSetRun"))],
) -> u.CreateSimulationUnitTestSetRunResponse:
    return await runs.create_run(session, who, body)


@routes.get("/simulation/unit_test_set_run/{simulation_unit_test_set_run_id}/artifacts/",
            operation_id="get-simulation-unit-test-set-run-artifacts",
            response_model=u.GetSimulationUnitTestSetRunArtifactsResponse,
            responses={400: {"description": "The artifacts for the unit test set run are not yet available."}})
async def get_simulation_unit_test_set_run_artifacts(
    simulation_unit_test_set_run_id: RunId, request: Request, session: SessionDep, runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Simulation:GetSimulationUnitTestSetRun",
                                              "Organization:GetServiceHierarchicalStateMachine"))],
) -> u.GetSimulationUnitTestSetRunArtifactsResponse:
    return await run_views.artifacts(session, runtime, who, simulation_unit_test_set_run_id, str(request.base_url))


@routes.delete("/simulation/unit_test_set_run/{simulation_unit_test_set_run_id}/",
               operation_id="cancel-simulation-unit-test-set-run", **NO_CONTENT,
               responses={409: {"description": "The simulation unit test set run is not in progress."}})
async def cancel_simulation_unit_test_set_run(
    simulation_unit_test_set_run_id: RunId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Simulation:CancelSimulationUnitTestSetRun"))],
) -> Response:
    await runs.cancel_run(session, who, simulation_unit_test_set_run_id)
    return Response(status_code=204)
