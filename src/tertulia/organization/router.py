"""HTTP routes of the organization domain (``/organization/``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Response

from tertulia.auth.deps import OrgPath, SessionDep, issuing_org_principal, optional_principal, require
from tertulia.auth.principal import Principal
from tertulia.core.errors import Forbidden
from tertulia.core.routing import domain_router
from tertulia.organization import service
from tertulia.organization.schemas import (
    CreateOrganizationRequest,
    CreateOrganizationResponse,
    GetOrganizationResponse,
    GetUserDimensionsResponse,
    ModifyOrganizationRequest,
)

router = domain_router("Organization")


def _require_in_issuing_org(permission: str) -> Any:
    """Like ``require`` but the token may come from the org named in ``X-ORG-ID`` (create-organization)."""

    async def _check(who: Annotated[Principal, Depends(issuing_org_principal)]) -> Principal:
        if not who.has(permission):
            raise Forbidden(f"Missing required permission {permission}.")
        return who

    _check.permissions = (permission,)  # type: ignore[attr-defined]
    return _check


@router.get("/organization/user_dimensions/", operation_id="get-user-dimensions", response_model=GetUserDimensionsResponse)
async def get_user_dimensions(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:GetOrganizationDetails"))],
) -> GetUserDimensionsResponse:
    return await service.user_dimensions(session, who)


@router.get("/organization/", operation_id="get-organization", response_model=GetOrganizationResponse,
            responses={404: {"description": "The specified organization does not exist."}})
async def get_organization(
    organization: OrgPath,
    session: SessionDep,
    who: Annotated[Principal | None, Depends(optional_principal)],
) -> GetOrganizationResponse:
    return await service.get_organization(session, organization, who)


@router.put("/organization/", operation_id="create-organization", status_code=201, response_model=CreateOrganizationResponse,
            responses={400: {"description": "The specified organization ID is reserved."},
                       409: {"description": "Conflicts with existing organization with the same `org_id`."}})
async def create_organization(
    organization: OrgPath,
    body: CreateOrganizationRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(_require_in_issuing_org("Organization:CreateOrganization"))],
) -> CreateOrganizationResponse:
    return await service.create_organization(session, who, organization, body)


@router.post("/organization/", operation_id="modify-organization", status_code=204,
             responses={404: {"description": "The specified organization does not exist."}})
async def modify_organization(
    body: ModifyOrganizationRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:ModifyOrganization"))],
) -> Response:
    await service.modify_organization(session, who, body)
    return Response(status_code=204)


@router.delete("/organization/", operation_id="delete-organization", status_code=204,
               responses={404: {"description": "Specified organization is not found."}})
async def delete_organization(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:DeleteOrganization"))],
) -> Response:
    await service.delete_organization(session, who)
    return Response(status_code=204)
