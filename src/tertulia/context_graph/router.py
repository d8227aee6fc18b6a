"""HTTP routes of the context graph domain (``/organization/service_hierarchical_state_machine``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from tertulia.auth.deps import SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.context_graph import service
from tertulia.context_graph.schemas import (
    CreateServiceHierarchicalStateMachineRequest,
    CreateServiceHierarchicalStateMachineResponse,
    CreateServiceHierarchicalStateMachineVersionRequest,
    CreateServiceHierarchicalStateMachineVersionResponse,
    GetServiceHierarchicalStateMachinesResponse,
    GetServiceHierarchicalStateMachineVersionsResponse,
)
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router

router = domain_router("Organization")

BASE = "/organization/service_hierarchical_state_machine"
GraphId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the service hierarchical state machine.")]


@router.post(BASE, operation_id="create-service-hierarchical-state-machine", status_code=201,
             response_model=CreateServiceHierarchicalStateMachineResponse,
             responses={409: {"description": "A state machine with the same name already exists."}})
async def create_graph(
    body: CreateServiceHierarchicalStateMachineRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:CreateServiceHierarchicalStateMachine"))],
) -> CreateServiceHierarchicalStateMachineResponse:
    graph_id = await service.create_graph(session, who.org_id, who.user_info, body.state_machine_name)
    return CreateServiceHierarchicalStateMachineResponse(id=graph_id)


@router.get(BASE, operation_id="get-service-hierarchical-state-machines",
            response_model=GetServiceHierarchicalStateMachinesResponse)
async def get_graphs(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:GetServiceHierarchicalStateMachine"))],
    deprecated: Annotated[bool | None, Query()] = None,
    id: Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]], Query()] = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=50)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
) -> GetServiceHierarchicalStateMachinesResponse:
    return await service.list_graphs(session, who.org_id, id, deprecated, limit, continuation_token)


@router.post(BASE + "/{service_hierarchical_state_machine_id}/",
             operation_id="create-service-hierarchical-state-machine-version", status_code=201,
             response_model=CreateServiceHierarchicalStateMachineVersionResponse | None,
             responses={400: {"description": "A referenced state machine doesn't exist or is deprecated."},
                        409: {"description": "The specified version is not the expected next version."}})
async def create_graph_version(
    service_hierarchical_state_machine_id: GraphId,
    body: CreateServiceHierarchicalStateMachineVersionRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:CreateServiceHierarchicalStateMachineVersion"))],
    version: Annotated[int | None, Query(gt=0)] = None,
    dry_run: Annotated[bool, Query()] = False,
) -> CreateServiceHierarchicalStateMachineVersionResponse | None:
    return await service.create_version(
        session, who.org_id, who.user_info, service_hierarchical_state_machine_id, body, version, dry_run
    )


@router.delete(BASE + "/{state_machine_id}/", operation_id="delete-service-hierarchical-state-machine",
               responses={400: {"description": "An active service exists that utilizes this state machine."},
                          409: {"description": "The specified state machine is already deleted"}})
async def delete_graph(
    state_machine_id: GraphId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:DeleteServiceHierarchicalStateMachine"))],
) -> dict[str, Any]:
    return await service.delete_graph(session, who.org_id, state_machine_id)


@router.get(BASE + "/{service_hierarchical_state_machine_id}/version",
            operation_id="get-service-hierarchical-state-machine-versions",
            response_model=GetServiceHierarchicalStateMachineVersionsResponse)
async def get_graph_versions(
    service_hierarchical_state_machine_id: GraphId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:GetServiceHierarchicalStateMachine"))],
    version: Annotated[str | None, Query(description="N, latest, A-B or A-latest.")] = None,
    limit: Annotated[int, Query(gt=0, le=10)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetServiceHierarchicalStateMachineVersionsResponse:
    return await service.list_versions(
        session, who.org_id, service_hierarchical_state_machine_id, version, sort_by, limit, continuation_token
    )
