"""User, memory and user-model queries; every one is scoped to an organization."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.core.db import run_core
from tertulia.core.paging import SortKey, apply_sort
from tertulia.core.sqljson import decoded, json_rows, parse_time
from tertulia.user.models import User, UserMemory, UserModelEntry

USER_SORT_COLUMNS: dict[str, Any] = {
    "first_name": User.first_name,
    "last_name": User.last_name,
    "email": User.email,
    "user_stats.num_conversations": User.num_conversations,
    "user_stats.num_messages": User.num_messages,
    "user_stats.last_message_time": User.last_message_time,
}


async def get_user(session: AsyncSession, org_id: str, user_id: str) -> User | None:
    return await session.scalar(select(User).where(User.org_id == org_id, User.user_id == user_id))


def memories_exist(org_id: Any, user_id: Any) -> Any:
    """EXISTS: the user has long-term memories."""
    return exists().where(UserMemory.org_id == org_id, UserMemory.user_id == user_id)


async def find_by_email(session: AsyncSession, org_id: str, email: str) -> User | None:
    return await session.scalar(select(User).where(User.org_id == org_id, func.lower(User.email) == email.lower()))


def users_query(org_id: str, user_ids: Sequence[str], emails: Sequence[str], sort: Sequence[SortKey]) -> Select[Any]:
    query = select(User).where(User.org_id == org_id)
    if user_ids:
        query = query.where(User.user_id.in_(user_ids))
    if emails:
        query = query.where(func.lower(User.email).in_([e.lower() for e in emails]))
    return apply_sort(query, sort, USER_SORT_COLUMNS, [User.created_at, User.pk])


async def search_users(session: AsyncSession, org_id: str, text: str, user_ids: Sequence[str], limit: int) -> list[User]:
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    full_name = func.lower(User.first_name + " " + User.last_name)
    query = select(User).where(
        User.org_id == org_id,
        or_(full_name.like(pattern, escape="\\"), func.lower(User.email).like(pattern, escape="\\")),
    )
    if user_ids:
        query = query.where(User.user_id.in_(user_ids))
    return list(await session.scalars(query.order_by(User.first_name, User.last_name, User.pk).limit(limit)))


def memories_query(
    org_id: str, user_id: str, ids: Sequence[str], conversation_ids: Sequence[str], sort: Sequence[SortKey]
) -> Select[Any]:
    query = select(UserMemory).where(UserMemory.org_id == org_id, UserMemory.user_id == user_id)
    if ids:
        query = query.where(UserMemory.id.in_(ids))
    if conversation_ids:
        query = query.where(UserMemory.conversation_id.in_(conversation_ids))
    columns = {"conversation_id": UserMemory.conversation_id, "created_at": UserMemory.created_at}
    return apply_sort(query, sort, columns, [UserMemory.created_at.desc(), UserMemory.id])


async def user_model_entries(session: AsyncSession, org_id: str, user_id: str) -> list[UserModelEntry]:
    return list(
        await session.scalars(
            select(UserModelEntry)
            .where(UserModelEntry.org_id == org_id, UserModelEntry.user_id == user_id)
            .order_by(UserModelEntry.updated_at.desc(), UserModelEntry.id)
        )
    )


# Statements of the per-turn path, built once (building one per call costs more CPU than running it).
_USERS = User.__table__
_TURN_STATS = (  # on the table's columns (``run_core``)
    update(_USERS)
    .where(_USERS.c.org_id == bindparam("b_org_id"), _USERS.c.user_id == bindparam("b_user_id"))
    .values(num_messages=_USERS.c.num_messages + bindparam("messages"),
            num_conversations=_USERS.c.num_conversations + bindparam("conversations"),
            last_message_time=bindparam("at", type_=_USERS.c.last_message_time.type))
)


class UserRow(NamedTuple):
    first_name: str
    last_name: str
    preferences: dict[str, Any]
    additional_context: list[Any]


def user_rows() -> Any:
    """For a caller's combined read (``core.sqljson``): the user ``:user_id`` (no row when there is none);
    ``user_from_rows`` reads it back."""
    return json_rows(select(User.first_name, User.last_name, User.preferences, User.additional_context)
                     .where(User.org_id == bindparam("org_id"), User.user_id == bindparam("user_id")))


def user_from_rows(value: Any) -> UserRow | None:
    rows = decoded(value)
    return UserRow(*rows[0]) if rows else None


def model_rows() -> Any:
    """For a combined read: the user model's entries (``model_from_rows``: their contents, oldest first)."""
    return json_rows(select(UserModelEntry.content, UserModelEntry.updated_at, UserModelEntry.id)
                     .where(UserModelEntry.org_id == bindparam("org_id"),
                            UserModelEntry.user_id == bindparam("user_id")))


def model_from_rows(value: Any) -> list[str]:
    rows = sorted(decoded(value), key=lambda row: (parse_time(row[1]), row[2]))
    return [str(content) for content, _, _ in rows]


async def add_turn_stats(
    session: AsyncSession, org_id: str, user_id: str, *, messages: int, conversations: int, at: datetime
) -> None:
    """Count a completed turn in the user's stats (one UPDATE, safe against concurrent turns of other conversations)."""
    await run_core(session, _TURN_STATS, {"b_org_id": org_id, "b_user_id": user_id, "messages": messages,
                                        "conversations": conversations, "at": at})


async def delete_user_rows(session: AsyncSession, org_id: str, user_id: str) -> None:
    """The user and what this domain keeps about them (memories, user model, temporary grants)."""
    from tertulia.role.models import TemporaryPermissionGrant

    for model in (UserMemory, UserModelEntry, TemporaryPermissionGrant):
        await session.execute(delete(model).where(model.org_id == org_id, model.user_id == user_id))
    await session.execute(delete(User).where(User.org_id == org_id, User.user_id == user_id))
