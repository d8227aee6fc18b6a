"""HTTP routes of the dynamic behavior set domain (``/dynamic_behavior_set``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response

from tertulia.auth.deps import SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.core.schemas import NonEmptyStr
from tertulia.dynamic_behavior_set import service
from tertulia.dynamic_behavior_set.schemas import (
    CreateDynamicBehaviorSetRequest,
    CreateDynamicBehaviorSetResponse,
    CreateDynamicBehaviorSetVersionRequest,
    CreateDynamicBehaviorSetVersionResponse,
    GetDynamicBehaviorInvocationsResponse,
    GetDynamicBehaviorSetsResponse,
    GetDynamicBehaviorSetVersionsResponse,
    SearchDynamicBehaviorSetsResponse,
    UpdateDynamicBehaviorSetRequest,
)

router = domain_router("DynamicBehaviorSet")

CREATE = "DynamicBehaviorInstruction:CreateDynamicBehaviorInstruction"
UPDATE = "DynamicBehaviorInstruction:UpdateDynamicBehaviorInstruction"
GET = "DynamicBehaviorInstruction:GetDynamicBehaviorInstruction"
DELETE = "DynamicBehaviorInstruction:DeleteDynamicBehaviorInstruction"

SetId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the dynamic behavior set.")]
IdList = Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]], Query()]


@router.get("/dynamic_behavior_set/search", operation_id="search-dynamic-behavior-sets",
            response_model=SearchDynamicBehaviorSetsResponse)
async def search_sets(
    session: SessionDep,
    who: Annotated[Principal, Depends(require(GET))],
    query: Annotated[NonEmptyStr, Query()],
    is_active: Annotated[bool | None, Query()] = None,
    applied_to_service: IdList = [],  # noqa: B006
    creator: Annotated[list[str], Query(description="org_id,user_id")] = [],  # noqa: B006
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
) -> SearchDynamicBehaviorSetsResponse:
    return await service.search_sets(session, who, query, is_active, applied_to_service, creator, tag)


@router.post("/dynamic_behavior_set/", operation_id="create-dynamic-behavior-set", status_code=201,
             response_model=CreateDynamicBehaviorSetResponse,
             responses={404: {"description": "A service does not exist."},
                        409: {"description": "An active set with the same name already exists."}})
async def create_set(
    body: CreateDynamicBehaviorSetRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require(CREATE, UPDATE))],
) -> CreateDynamicBehaviorSetResponse:
    set_id = await service.create_set(session, who.org_id, who.user_info, body)
    return CreateDynamicBehaviorSetResponse(dynamic_behavior_set_id=set_id)


@router.get("/dynamic_behavior_set/", operation_id="get-dynamic-behavior-sets",
            response_model=GetDynamicBehaviorSetsResponse)
async def get_sets(
    session: SessionDep,
    who: Annotated[Principal, Depends(require(GET))],
    id: IdList = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=50)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    is_active: Annotated[bool | None, Query()] = None,
    applied_to_service: IdList = [],  # noqa: B006
    creator: Annotated[list[str], Query(description="org_id,user_id")] = [],  # noqa: B006
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetDynamicBehaviorSetsResponse:
    return await service.list_sets(session, who, id, is_active, applied_to_service, creator, tag, sort_by, limit,
                                   continuation_token)


@router.delete("/dynamic_behavior_set/{dynamic_behavior_set_id}/", operation_id="delete-dynamic-behavior-instruction")
async def delete_set(
    dynamic_behavior_set_id: SetId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require(DELETE))],
) -> dict[str, Any]:
    who.require(DELETE, {"dynamic_behavior_set_id": dynamic_behavior_set_id})
    return await service.delete_set(session, who.org_id, dynamic_behavior_set_id)


@router.post("/dynamic_behavior_set/{dynamic_behavior_set_id}/", operation_id="update-dynamic-behavior-set",
             status_code=204, response_class=Response,
             responses={404: {"description": "The set or a service does not exist."},
                        409: {"description": "Another active set with the same name already exists."}})
async def update_set(
    dynamic_behavior_set_id: SetId,
    body: UpdateDynamicBehaviorSetRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require(UPDATE))],
) -> Response:
    who.require(UPDATE, {"dynamic_behavior_set_id": dynamic_behavior_set_id})
    await service.update_set(session, who.org_id, who.user_info, dynamic_behavior_set_id, body)
    return Response(status_code=204)


@router.post("/dynamic_behavior_set/{dynamic_behavior_set_id}/version/",
             operation_id="create-dynamic-behavior-set-version", status_code=201,
             response_model=CreateDynamicBehaviorSetVersionResponse,
             responses={400: {"description": "The version is not the expected next version."}})
async def create_version(
    dynamic_behavior_set_id: SetId,
    body: CreateDynamicBehaviorSetVersionRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require(UPDATE))],
    version: Annotated[int | None, Query(gt=1)] = None,
) -> CreateDynamicBehaviorSetVersionResponse:
    who.require(UPDATE, {"dynamic_behavior_set_id": dynamic_behavior_set_id})
    number = await service.create_version(session, who.org_id, who.user_info, dynamic_behavior_set_id, body, version)
    return CreateDynamicBehaviorSetVersionResponse(new_version_number=number)


@router.get("/dynamic_behavior_set/{dynamic_behavior_set_id}/version/",
            operation_id="get-dynamic-behavior-set-versions", response_model=GetDynamicBehaviorSetVersionsResponse)
async def get_versions(
    dynamic_behavior_set_id: SetId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require(GET))],
    version: Annotated[str | None, Query(description="N, latest, A-B or A-latest.")] = None,
    limit: Annotated[int, Query(gt=0, le=10)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetDynamicBehaviorSetVersionsResponse:
    who.require(GET, {"dynamic_behavior_set_id": dynamic_behavior_set_id})
    return await service.list_versions(session, who.org_id, dynamic_behavior_set_id, version, sort_by, limit,
                                       continuation_token)


@router.get("/dynamic_behavior_set/{dynamic_behavior_set_id}/invocation/",
            operation_id="get-dynamic-behavior-invocations", response_model=GetDynamicBehaviorInvocationsResponse)
async def get_invocations(
    dynamic_behavior_set_id: SetId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require(GET))],
    limit: Annotated[int, Query(gt=0, le=30)] = 30,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetDynamicBehaviorInvocationsResponse:
    who.require(GET, {"dynamic_behavior_set_id": dynamic_behavior_set_id})
    return await service.list_invocations(session, who, dynamic_behavior_set_id, sort_by, limit, continuation_token)
