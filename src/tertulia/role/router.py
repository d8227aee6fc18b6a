"""HTTP routes of the role domain (``/role``). Literal paths are registered before ``/role/{role_name}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from tertulia.auth.deps import PrincipalDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.role import service
from tertulia.role.schemas import (
    AssignRoleRequest,
    CreateRoleRequest,
    CreateTemporaryPermissionGrantRequest,
    CreateTemporaryPermissionGrantResponse,
    GetRolesResponse,
    GetTemporaryPermissionGrantsResponse,
    ModifyRoleRequest,
    RoleIdResponse,
)

router = domain_router("Role")

RoleNamePath = Annotated[str, Path(description="The name of the role.")]
ObjectIdQuery = Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]


@router.post("/role/temporary_permission_grant/", operation_id="create-temporary-permission-grant", status_code=201,
             response_model=CreateTemporaryPermissionGrantResponse,
             responses={404: {"description": "Specified organization or user is not found."}})
async def create_temporary_permission_grant(
    body: CreateTemporaryPermissionGrantRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Role:CreateTemporaryPermissionGrant"))],
) -> CreateTemporaryPermissionGrantResponse:
    return await service.create_grant(session, who, body)


@router.get("/role/temporary_permission_grants/", operation_id="get-temporary-permission-grants",
            response_model=GetTemporaryPermissionGrantsResponse)
async def get_temporary_permission_grants(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Role:GetTemporaryPermissionGrant"))],
    id: Annotated[list[ObjectIdQuery], Query()] = [],  # noqa: A002,B006
    user_id: Annotated[list[str], Query()] = [],  # noqa: B006
    permission_grant_name: Annotated[str | None, Query()] = None,
    is_expired: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=0, le=10)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    creator: Annotated[list[str], Query(description="org_id,user_id")] = [],  # noqa: B006
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetTemporaryPermissionGrantsResponse:
    return await service.list_grants(
        session, who, ids=id, user_ids=user_id, permission_name=permission_grant_name, is_expired=is_expired,
        creators=creator, tags=tag, sort_by=sort_by, limit=limit, offset=continuation_token,
    )


@router.post("/role/", operation_id="create-role", status_code=201, response_model=RoleIdResponse,
             responses={409: {"description": "Role with the same name already exists in this organization."}})
async def create_role(
    body: CreateRoleRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Role:CreateRole"))],
) -> RoleIdResponse:
    return await service.create_role(session, who, body)


@router.get("/role/", operation_id="get_roles_v1__organization__role__get", response_model=GetRolesResponse)
async def get_roles(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Role:GetRole"))],
    return_permission_grants: Annotated[bool, Query()] = False,
    id: Annotated[list[ObjectIdQuery], Query()] = [],  # noqa: A002,B006
    name: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetRolesResponse:
    return await service.list_roles(session, who, id, name, return_permission_grants)


@router.post("/role/{role_name}", operation_id="modify-role", response_model=RoleIdResponse,
             responses={404: {"description": "Specified organization or role is not found."}})
async def modify_role(
    role_name: RoleNamePath,
    body: ModifyRoleRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Role:ModifyRole"))],
) -> RoleIdResponse:
    return await service.modify_role(session, who, role_name, body)


@router.post("/role/{role_name}/assign", operation_id="assign-role", response_model=RoleIdResponse,
             responses={404: {"description": "Specified organization, role, or user is not found."}})
async def assign_role(
    role_name: RoleNamePath,
    body: AssignRoleRequest,
    session: SessionDep,
    who: PrincipalDep,
) -> RoleIdResponse:
    return await service.assign_role(session, who, role_name, body.user_id)
