"""HTTP routes of the api key domain (``/organization/api_key/``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from tertulia.api_key import service
from tertulia.api_key.schemas import CreateAPIKeyRequest, CreateAPIKeyResponse, DeleteAPIKeyResponse, GetAPIKeysResponse
from tertulia.auth.deps import RuntimeDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.routing import domain_router

router = domain_router("Organization")


@router.post("/organization/api_key/", operation_id="create-api-key", status_code=201, response_model=CreateAPIKeyResponse,
             responses={400: {"description": "The organization has reached the maximum API key limit."},
                        404: {"description": "The specified organization or role does not exist."}})
async def create_api_key(
    body: CreateAPIKeyRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Organization:CreateAPIKey"))],
) -> CreateAPIKeyResponse:
    return await service.create_key(session, who, body, runtime.settings.resolved_api_key_pepper())


@router.get("/organization/api_key/", operation_id="get-api-keys", response_model=GetAPIKeysResponse)
async def get_api_keys(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:GetAPIKey"))],
) -> GetAPIKeysResponse:
    return await service.list_keys(session, who)


@router.delete("/organization/api_key/{api_key_id}/", operation_id="delete-api-key", response_model=DeleteAPIKeyResponse,
               responses={404: {"description": "The specified organization or the API key does not exist."}})
async def delete_api_key(
    api_key_id: Annotated[str, Path(description="ID of the API key to delete.")],
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:DeleteAPIKey"))],
) -> DeleteAPIKeyResponse:
    return await service.delete_key(session, who, api_key_id)
