"""HTTP routes of the identity domain: sign-in with an API key (registered before ``/user/{id}`` routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from tertulia.auth.deps import OrgPath, RuntimeDep, SessionDep
from tertulia.core.routing import domain_router
from tertulia.identity import service
from tertulia.identity.schemas import SigninWithAPIKeyResponse

router = domain_router("User")


@router.post(
    "/user/signin_with_api_key",
    operation_id="sign-in-with-api-key",
    summary="Sign in with API key",
    response_model=SigninWithAPIKeyResponse,
    responses={401: {"description": "API key not found, is incorrect, or the requested user is not found."},
               404: {"description": "Specified organization is not found."}},
)
async def sign_in_with_api_key(
    organization: OrgPath,
    session: SessionDep,
    runtime: RuntimeDep,
    x_api_key: Annotated[str, Header(alias="x-api-key", description="The value of the API key.")],
    x_api_key_id: Annotated[str, Header(alias="x-api-key-id", description="The ID of the API key.")],
    x_user_id: Annotated[str, Header(alias="x-user-id", description="The ID of the user to sign in as.")],
) -> SigninWithAPIKeyResponse:
    return await service.sign_in_with_api_key(session, runtime, organization, x_api_key_id, x_api_key, x_user_id)
