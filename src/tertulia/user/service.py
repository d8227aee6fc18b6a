"""User use cases: invite, list, search, update, delete, variables, and email sign-in."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.errors import BadRequest, Conflict, NotFound
from tertulia.core.paging import fetch_page, page_list, parse_sort_by
from tertulia.role import repository as roles
from tertulia.role.privileges import ensure_at_least_as_permissive
from tertulia.user import repository as repo
from tertulia.user.models import User
from tertulia.user.organizations import organizations
from tertulia.user.schemas import (
    DEFAULT_PREFERENCES,
    CreateInvitedUserRequest,
    CreateInvitedUserResponse,
    GetUsersResponse,
    ModifyUserVariablesRequest,
    NotSet,
    Preferences,
    SearchUserInstance,
    SearchUsersResponse,
    UpdateUserInfoRequest,
    UserInstance,
)

MAX_NONSENSITIVE = 20
SEARCH_LIMIT = 50


async def require_user(session: AsyncSession, org_id: str, user_id: str) -> User:
    user = await repo.get_user(session, org_id, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


def preferences_of(stored: dict[str, Any] | None) -> dict[str, Any]:
    return Preferences.model_validate({**DEFAULT_PREFERENCES, **(stored or {})}).model_dump()


def _search_instance(user: User) -> dict[str, Any]:
    return {
        "org_id": user.org_id,
        "user_id": user.user_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "user_stats": {
            "num_conversations": user.num_conversations,
            "num_messages": user.num_messages,
            "last_message_time": user.last_message_time,
        },
        "role": user.role_id,
        "preferences": preferences_of(user.preferences),
        "nonsensitive_variables": dict(user.nonsensitive_variables or {}),
        "sensitive_variables": sorted((user.sensitive_variables or {}).keys()),
    }


def user_instance(user: User) -> UserInstance:
    return UserInstance(**_search_instance(user), enable_actions_access=user.enable_actions_access)


async def invite_user(session: AsyncSession, who: Principal, body: CreateInvitedUserRequest) -> CreateInvitedUserResponse:
    """Create an unverified user. tertulia sends no email: ``verify_link`` is always null and ``login_link`` is
    accepted but unused."""
    who.require("User:InviteUser", {"email": body.email})
    role = await roles.find_active_by_name(session, who.org_id, body.role_name)
    if role is None:
        raise NotFound(f"Role {body.role_name!r} not found.")
    await ensure_at_least_as_permissive(session, who, role.permission_grants, f"the role {body.role_name!r}")
    if await repo.find_by_email(session, who.org_id, body.email):
        raise Conflict(f"A user with email {body.email} already exists in this organization.")
    if body.user_preferences is not None:
        preferences = body.user_preferences.model_dump(mode="json")
    else:
        defaults = await organizations().default_user_preferences(session, who.org_id)
        preferences = dict(defaults or DEFAULT_PREFERENCES)
    user = User(
        org_id=who.org_id,
        first_name=body.first_name,
        last_name=body.last_name,
        email=body.email,
        role_id=role.id,
        preferences=preferences,
        nonsensitive_variables=dict(body.nonsensitive_user_variables),
        sensitive_variables=dict(body.sensitive_user_variables),
        is_verified=False,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A user with email {body.email} already exists in this organization.") from exc
    return CreateInvitedUserResponse(user_id=user.user_id, verify_link=None)


async def list_users(
    session: AsyncSession,
    who: Principal,
    user_ids: list[str],
    emails: list[str],
    sort_by: list[str],
    limit: int,
    offset: int,
) -> GetUsersResponse:
    """Only users the caller may ``User:GetUserInfo`` are listed (a DefaultUserRole caller sees itself)."""
    sort = parse_sort_by(sort_by, list(repo.USER_SORT_COLUMNS))
    query = repo.users_query(who.org_id, user_ids, emails, sort)
    if who.has("User:GetUserInfo"):  # an unconditional grant: page in SQL
        page = await fetch_page(session, query, limit, offset)
    else:
        visible = [u for u in await session.scalars(query) if who.has("User:GetUserInfo", {"user_id": u.user_id})]
        page = page_list(visible, limit, offset)
    return GetUsersResponse(
        users=[user_instance(u) for u in page.items], has_more=page.has_more, continuation_token=page.continuation_token
    )


async def search_users(session: AsyncSession, who: Principal, query: str, user_ids: list[str]) -> SearchUsersResponse:
    """Case-insensitive substring match on "first last" and email; the first 50 visible hits."""
    rows = await repo.search_users(session, who.org_id, query, user_ids, limit=1000)
    visible = [u for u in rows if who.has("User:GetUserInfo", {"user_id": u.user_id})][:SEARCH_LIMIT]
    return SearchUsersResponse(users=[SearchUserInstance(**_search_instance(u)) for u in visible])


async def update_user(session: AsyncSession, who: Principal, user_id: str, body: UpdateUserInfoRequest) -> None:
    who.require("User:UpdateUserInfo", {"user_id": user_id})
    user = await require_user(session, who.org_id, user_id)
    if body.first_name is not None:
        user.first_name = body.first_name
    if body.last_name is not None:
        user.last_name = body.last_name
    prefs = preferences_of(user.preferences)
    for name in ("enable_response_recommendation", "conversations_visible_to_admins", "user_model_visible_to_admins"):
        value = getattr(body, name)
        if value is not None:
            prefs[name] = value
    for name in ("preferred_language", "timezone"):  # {} = unchanged, null = clear
        value = getattr(body, name)
        if not isinstance(value, NotSet):
            prefs[name] = value
    if body.audio_keyterms is not None:
        prefs["audio_keyterms"] = list(body.audio_keyterms)
    user.preferences = prefs
    if body.additional_context is not None:
        user.additional_context = list(body.additional_context)
    await session.flush()


async def delete_user(session: AsyncSession, who: Principal, user_id: str) -> None:
    """Removes the user with its memories, user model and temporary grants. Conversations stay with their
    domain (they keep the user id as a plain reference). A caller cannot delete a user whose role is more
    permissive than its own."""
    who.require("User:DeleteUser", {"user_id": user_id})
    user = await require_user(session, who.org_id, user_id)
    role = await roles.get_role(session, who.org_id, user.role_id)
    if role is not None and user.user_id != who.user_id:
        await ensure_at_least_as_permissive(session, who, role.permission_grants, "this user's role")
    await repo.delete_user_rows(session, who.org_id, user_id)
    await session.flush()


async def modify_variables(session: AsyncSession, who: Principal, user_id: str, body: ModifyUserVariablesRequest) -> None:
    """Deletes first, then upserts; a name changes kind (secret or not) when upserted with the other kind."""
    who.require("User:UpdateUserInfo", {"user_id": user_id})
    user = await require_user(session, who.org_id, user_id)
    plain = dict(user.nonsensitive_variables or {})
    secret = dict(user.sensitive_variables or {})
    upserted = [u.name for u in body.upserts]
    if len(set(upserted)) != len(upserted):
        raise BadRequest("A variable may be upserted only once per request.")
    for d in body.deletes:
        if d.name in upserted:
            raise BadRequest(f"Variable {d.name!r} is both upserted and deleted.")
        if d.name in plain:
            del plain[d.name]
        elif d.name in secret:
            del secret[d.name]
        else:
            raise BadRequest(f"Variable {d.name!r} does not exist.")
    for u in body.upserts:
        (secret if u.is_secret else plain)[u.name] = u.value
        (plain if u.is_secret else secret).pop(u.name, None)
    if len(plain) > MAX_NONSENSITIVE:
        raise BadRequest(f"A user may have at most {MAX_NONSENSITIVE} nonsensitive variables.")
    user.nonsensitive_variables = plain
    user.sensitive_variables = secret
    await session.flush()


async def sign_in_with_email(session: AsyncSession, org_id: str) -> dict[str, Any]:
    """Magic-link sign-in. tertulia sends no email (it has no mail transport): for a known organization this
    always answers 200 with ``{}``, whether or not the email belongs to a verified user, so nothing leaks.
    Clients sign in with ``signin_with_api_key`` instead."""
    if not await organizations().exists(session, org_id):
        raise NotFound(f"Organization {org_id} not found.")
    return {}
