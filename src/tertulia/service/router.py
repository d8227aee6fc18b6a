"""HTTP routes of the service domain (``/service``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response

from tertulia.auth.deps import SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.service import service
from tertulia.service.schemas import (
    CreateServiceRequest,
    CreateServiceResponse,
    GetServicesResponse,
    UpdateServiceRequest,
    UpsertServiceVersionSetRequest,
)

router = domain_router("Service")

ServiceId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the service.")]
VersionSetNamePath = Annotated[
    str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$", description="The name of the version set.")
]


@router.get("/service/", operation_id="get-services", response_model=GetServicesResponse)
async def get_services(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Service:GetService"))],
    id: Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]], Query()] = [],  # noqa: A002,B006
    is_active: Annotated[bool | None, Query()] = None,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
    tags: Annotated[list[str], Query(description="key:value, key:* or key:")] = [],  # noqa: B006
    limit: Annotated[int, Query(gt=0, le=20)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
) -> GetServicesResponse:
    return await service.list_services(session, who, id, is_active, tags, sort_by, limit, continuation_token)


@router.post("/service/", operation_id="create-service", status_code=201, response_model=CreateServiceResponse,
             responses={400: {"description": "Bad version set, or the agent / graph has no usable version."},
                        404: {"description": "The agent or service hierarchical state machine does not exist."},
                        409: {"description": "An active service with the given name already exists."}})
async def create_service(
    body: CreateServiceRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Service:CreateService", "Service:CreateVersionSet"))],
) -> CreateServiceResponse:
    return CreateServiceResponse(id=await service.create_service(session, who.org_id, who.user_info, body))


@router.put("/service/{service_id}/version_sets/{version_set_name}/", operation_id="upsert-service-version-set",
            status_code=204, response_class=Response,
            responses={400: {"description": "Edge is immutable, or a version does not belong to the service."},
                       404: {"description": "The service does not exist."}})
async def upsert_version_set(
    service_id: ServiceId,
    version_set_name: VersionSetNamePath,
    body: UpsertServiceVersionSetRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require())],
) -> Response:
    await service.upsert_version_set(session, who, service_id, version_set_name, body.version_set)
    return Response(status_code=204)


@router.delete("/service/{service_id}/version_sets/{version_set_name}/", operation_id="delete-service-version-set",
               status_code=204, response_class=Response,
               responses={400: {"description": "The edge and release version sets cannot be deleted."},
                          404: {"description": "The service or version set does not exist."}})
async def delete_version_set(
    service_id: ServiceId,
    version_set_name: str,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Service:DeleteVersionSet"))],
) -> Response:
    await service.delete_version_set(session, who, service_id, version_set_name)
    return Response(status_code=204)


@router.post("/service/{service_id}/", operation_id="update-service",
             responses={400: {"description": "The agent or graph is unusable."},
                        404: {"description": "The service does not exist."},
                        409: {"description": "An active service with the same name exists."}})
async def update_service(
    service_id: ServiceId,
    body: UpdateServiceRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Service:UpdateService"))],
) -> dict[str, Any]:
    who.require("Service:UpdateService", {"service_id": service_id})
    return await service.update_service(session, who.org_id, who.user_info, service_id, body)
