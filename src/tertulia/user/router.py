"""HTTP routes of the user domain (``/user``).

Literal paths (``/user/signin``, ``/user/search/``) are registered before ``/user/{requested_user_id}``; user ids
are free strings (unknown ones answer 404, not 422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response
from pydantic import EmailStr

from tertulia.auth.deps import OrgPath, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.user import insight, service
from tertulia.user.schemas import (
    CreateInvitedUserRequest,
    CreateInvitedUserResponse,
    GetMemoriesResponse,
    GetUserModelResponse,
    GetUsersResponse,
    ModifyUserVariablesRequest,
    SearchUsersResponse,
    SignInWithEmailRequest,
    UpdateUserInfoRequest,
)

router = domain_router("User")

RequestedUserId = Annotated[str, Path(description="The identifier of the user.")]
ObjectIdQuery = Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]
_NOT_FOUND = {404: {"description": "Specified organization or user is not found."}}


@router.post("/user/", operation_id="create-invited-user", status_code=201, response_model=CreateInvitedUserResponse,
             responses={404: {"description": "Specified organization or role is not found."},
                        409: {"description": "User with the same email already exists in this organization."}})
async def create_invited_user(
    body: CreateInvitedUserRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("User:InviteUser"))],
) -> CreateInvitedUserResponse:
    return await service.invite_user(session, who, body)


@router.get("/user/", operation_id="get-users", response_model=GetUsersResponse)
async def get_users(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("User:GetUserInfo"))],
    user_id: Annotated[list[str], Query(description="The ID of the user.")] = [],  # noqa: B006
    email: Annotated[list[EmailStr], Query(description="The email of the user.")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=0, le=100)] = 100,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetUsersResponse:
    return await service.list_users(session, who, user_id, [str(e) for e in email], sort_by, limit, continuation_token)


@router.post("/user/signin", operation_id="sign-in-with-email",
             responses={404: {"description": "Specified organization is not found."}})
async def sign_in_with_email(organization: OrgPath, body: SignInWithEmailRequest, session: SessionDep) -> dict[str, Any]:
    return await service.sign_in_with_email(session, organization)


@router.get("/user/search/", operation_id="search-users", response_model=SearchUsersResponse)
async def search_users(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("User:GetUserInfo"))],
    query: Annotated[str, Query(description="Users whose name or email contains this text.")],
    user_id: Annotated[list[str], Query()] = [],  # noqa: B006
) -> SearchUsersResponse:
    return await service.search_users(session, who, query, user_id)


@router.post("/user/{requested_user_id}", operation_id="update-user-info", status_code=204, responses=_NOT_FOUND)
async def update_user_info(
    requested_user_id: RequestedUserId,
    body: UpdateUserInfoRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("User:UpdateUserInfo"))],
) -> Response:
    await service.update_user(session, who, requested_user_id, body)
    return Response(status_code=204)


@router.delete("/user/{requested_user_id}", operation_id="delete-user", status_code=204, responses=_NOT_FOUND)
async def delete_user(
    requested_user_id: RequestedUserId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("User:DeleteUser"))],
) -> Response:
    await service.delete_user(session, who, requested_user_id)
    return Response(status_code=204)


@router.get("/user/{user_id}/user_model", operation_id="get-user-model", response_model=GetUserModelResponse,
            responses=_NOT_FOUND)
async def get_user_model(
    user_id: RequestedUserId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("User:GetUserModel"))],
) -> GetUserModelResponse:
    return await insight.get_user_model(session, who, user_id)


@router.get("/user/{user_id}/memory", operation_id="get-memories", response_model=GetMemoriesResponse,
            responses=_NOT_FOUND)
async def get_memories(
    user_id: RequestedUserId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Conversation:GetMessage"))],
    id: Annotated[list[ObjectIdQuery], Query()] = [],  # noqa: A002,B006
    conversation_id: Annotated[list[ObjectIdQuery], Query()] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=0, le=50)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetMemoriesResponse:
    return await insight.get_memories(session, who, user_id, id, conversation_id, sort_by, limit, continuation_token)


@router.post("/user/{requested_user_id}/variable", operation_id="modify-user-variables", status_code=204,
             responses={**_NOT_FOUND, 400: {"description": "A variable to delete does not exist, or too many variables."}})
async def modify_user_variables(
    requested_user_id: RequestedUserId,
    body: ModifyUserVariablesRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("User:UpdateUserInfo"))],
) -> Response:
    await service.modify_variables(session, who, requested_user_id, body)
    return Response(status_code=204)
