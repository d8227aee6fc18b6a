"""Conversation queries; every one is scoped to an organization."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.conversation.models import Conversation, Interaction, Message
from tertulia.core.db import run_core
from tertulia.core.sqljson import decoded, json_rows, parse_time, rows_sorted

VISIBLE_TYPES = ("user-message", "agent-message", "external-event")

# Statements of the per-turn path, built once: building a statement (and its cache key) per call costs more CPU than
# running it. Parameters are bound by name at execution.
_ORG, _CONV = bindparam("org_id"), bindparam("conversation_id")
_CONVERSATION = select(Conversation).where(Conversation.org_id == _ORG, Conversation.id == _CONV)
# The same row as plain columns (attribute names = column names), for reads that only look at it
_CONVERSATION_ROW = select(*Conversation.__table__.columns).where(Conversation.org_id == _ORG, Conversation.id == _CONV)
# The transcript as plain rows of the columns a turn reads: no ORM instances (identity map, instance state) for a
# window of up to 160 messages on every turn.
_MESSAGES = select(Message.id, Message.interaction_id, Message.message_type, Message.message, Message.created_at,
                   Message.position).where(Message.org_id == _ORG, Message.conversation_id == _CONV)
_ALL_MESSAGES = _MESSAGES.order_by(Message.position)
_LAST_MESSAGES = _MESSAGES.order_by(Message.position.desc()).limit(bindparam("last"))
class TranscriptRow(NamedTuple):
    id: str
    interaction_id: str
    message_type: str
    message: str
    created_at: datetime
    position: int


def transcript_rows(*, recent: bool) -> Any:
    """For a caller's combined read (``core.sqljson``): the transcript of ``:conversation_id``, or its last ``:last``
    messages when ``recent``; ``transcript_from_rows`` reads the result back in conversation order."""
    return json_rows(_LAST_MESSAGES if recent else _ALL_MESSAGES)


def transcript_from_rows(value: Any) -> list[TranscriptRow]:
    rows = decoded(value)
    rows.sort(key=itemgetter(5))
    return [TranscriptRow(i, iid, kind, text, parse_time(at), position) for i, iid, kind, text, at, position in rows]


def replay_rows() -> Any:
    """For a combined read: how each interaction of ``:conversation_id`` started (``replays_from_rows``)."""
    return json_rows(select(Interaction.id, Interaction.replay, Interaction.sequence)
                     .where(Interaction.org_id == _ORG, Interaction.conversation_id == _CONV))


def replays_from_rows(value: Any) -> dict[str, dict[str, Any]]:
    return {interaction_id: replay or {} for interaction_id, replay, _ in rows_sorted(value, 2)}


def _turn_update(finished: bool) -> Any:
    """Built once (per variant), on the table's columns (``run_core``)."""
    table = Conversation.__table__
    values: dict[str, Any] = dict(
        state=bindparam("b_state", type_=table.c.state.type),
        active_dynamic_behavior=bindparam("active_behavior", type_=table.c.active_dynamic_behavior.type),
        performed_queries=bindparam("b_queries", type_=table.c.performed_queries.type),
        num_messages=table.c.num_messages + bindparam("visible"),
        num_interactions=table.c.num_interactions + 1, final_message_id=bindparam("b_final_message_id"),
        lock_token=None, lock_expires_at=None,
    )
    if finished:
        values.update(is_finished=True, open_key=None, finished_at=bindparam("now", type_=table.c.finished_at.type))
    return (
        update(table)
        .where(table.c.org_id == bindparam("b_org_id"), table.c.id == bindparam("b_conversation_id"),
               table.c.lock_token == bindparam("b_token"))
        .values(**values)
    )


_TURN_UPDATE = {False: _turn_update(False), True: _turn_update(True)}
_INSERT_INTERACTION = insert(Interaction.__table__)
_INSERT_MESSAGES = insert(Message.__table__)


async def get_conversation(
    session: AsyncSession, org_id: str, conversation_id: str, *, refresh: bool = False
) -> Conversation | None:
    """``refresh``: reload the row over what the session holds (after a bulk UPDATE of it)."""
    query = _CONVERSATION.execution_options(populate_existing=True) if refresh else _CONVERSATION
    return await session.scalar(query, {"org_id": org_id, "conversation_id": conversation_id})


async def conversation_row(session: AsyncSession, org_id: str, conversation_id: str) -> Any:
    """The conversation as a read-only row (its columns as attributes), or None: no ORM instance (identity map,
    instance state) for a read that only looks, as a turn's first read does."""
    result = await run_core(session, _CONVERSATION_ROW, {"org_id": org_id, "conversation_id": conversation_id})
    return result.first()


async def finish_if_free(session: AsyncSession, org_id: str, conversation_id: str, now: datetime) -> bool:
    """Mark an unfinished conversation whose lease is free (or expired) finished; False when a turn holds it."""
    result = await session.execute(
        update(Conversation)
        .where(
            Conversation.org_id == org_id,
            Conversation.id == conversation_id,
            Conversation.is_finished.is_(False),
            or_(Conversation.lock_token.is_(None), Conversation.lock_expires_at < now),
        )
        .values(is_finished=True, open_key=None, finished_at=now, lock_token=None, lock_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def get_interaction(
    session: AsyncSession, org_id: str, conversation_id: str, interaction_id: str
) -> Interaction | None:
    return await session.scalar(
        select(Interaction).where(
            Interaction.org_id == org_id,
            Interaction.conversation_id == conversation_id,
            Interaction.id == interaction_id,
        )
    )


async def latest_interaction(session: AsyncSession, org_id: str, conversation_id: str) -> Interaction | None:
    return await session.scalar(
        select(Interaction)
        .where(Interaction.org_id == org_id, Interaction.conversation_id == conversation_id)
        .order_by(Interaction.sequence.desc())
        .limit(1)
    )


async def count_interactions(session: AsyncSession, org_id: str, conversation_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Interaction)
            .where(Interaction.org_id == org_id, Interaction.conversation_id == conversation_id)
        )
        or 0
    )


async def transcript(
    session: AsyncSession, org_id: str, conversation_id: str, *, last: int | None = None
) -> list[Any]:
    """Every message of the conversation (inner thoughts included), in conversation order; only the ``last`` ones
    when given (still in order). Rows with ``id``, ``interaction_id``, ``message_type``, ``message``, ``created_at``
    and ``position``."""
    params = {"org_id": org_id, "conversation_id": conversation_id}
    if last is None:
        return list((await session.execute(_ALL_MESSAGES, params)).all())
    recent = list((await session.execute(_LAST_MESSAGES, {**params, "last": last})).all())
    recent.reverse()
    return recent


async def get_message(session: AsyncSession, org_id: str, conversation_id: str, message_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(
            Message.org_id == org_id, Message.conversation_id == conversation_id, Message.id == message_id
        )
    )


async def messages_by_id(session: AsyncSession, org_id: str, ids: Sequence[str]) -> dict[str, Message]:
    if not ids:
        return {}
    rows = await session.scalars(select(Message).where(Message.org_id == org_id, Message.id.in_(list(ids))))
    return {m.id: m for m in rows.all()}


def conversations_query(
    org_id: str,
    user_ids: Sequence[str],
    service_ids: Sequence[str],
    is_finished: bool | None,
    ids: Sequence[str],
    include_simulated: bool = False,
) -> Select:
    query = select(Conversation).where(Conversation.org_id == org_id)
    if not include_simulated:
        query = query.where(Conversation.simulation_run_id.is_(None))
    if user_ids:
        query = query.where(Conversation.user_id.in_(list(user_ids)))
    if service_ids:
        query = query.where(Conversation.service_id.in_(list(service_ids)))
    if is_finished is not None:
        query = query.where(Conversation.is_finished.is_(is_finished))
    if ids:
        query = query.where(Conversation.id.in_(list(ids)))
    return query


def messages_query(
    org_id: str,
    conversation_id: str,
    ids: Sequence[str],
    message_types: Sequence[str],
    interaction_ids: Sequence[str],
) -> Select:
    query = select(Message).where(Message.org_id == org_id, Message.conversation_id == conversation_id)
    if ids:
        query = query.where(Message.id.in_(list(ids)))
    query = query.where(Message.message_type.in_(list(message_types)))
    if interaction_ids:
        query = query.where(Message.interaction_id.in_(list(interaction_ids)))
    return query


def earlier_finished_exists(org_id: Any, user_id: Any, service_id: Any, before: Any, exclude_id: Any) -> Any:
    """EXISTS: the user finished a conversation of this service before ``before`` (a returning user)."""
    return exists().where(
        Conversation.org_id == org_id,
        Conversation.user_id == user_id,
        Conversation.service_id == service_id,
        Conversation.is_finished.is_(True),
        Conversation.id != exclude_id,
        Conversation.created_at <= before,
    )


async def append_turn(
    session: AsyncSession,
    org_id: str,
    conversation_id: str,
    token: str,
    *,
    sequence: int,
    after_position: int,
    interaction_id: str,
    messages: list[dict[str, Any]],
    insights: dict[str, Any],
    replay: dict[str, Any],
    state: dict[str, Any],
    active_behavior: list[Any] | None,
    performed_queries: list[str] | None,
    final_message_id: str,
    finished: bool,
    now: datetime,
) -> int:
    """Add one completed interaction with its messages to the conversation and move the conversation on (state,
    counters, the recall queries run so far, final message; finished when the turn ended it), releasing the lease
    ``token``.

    The conversation's UPDATE is conditional on ``lock_token = token``: it is the lease check itself, guarded
    (``expect_rows=1``): when the lease is no longer held ``core.prepared.StaleWrite`` is raised and the unit of work
    rolls back, so nothing is added. It runs first and reads nothing back, so a ``core_batch`` can run it with the
    INSERTs in one trip. The holder of the lease knows the conversation as it was when
    the lease was taken (no turn can complete in between), so ``sequence`` (the interaction's number) and
    ``after_position`` (the last message's position, -1 for none) come from the caller: no read here.
    Returns how many of the messages are visible (user, agent and external-event messages).
    """
    visible = sum(1 for m in messages if m["message_type"] in VISIBLE_TYPES)
    await run_core(session, _TURN_UPDATE[bool(finished)], {
        "b_org_id": org_id, "b_conversation_id": conversation_id, "b_token": token, "b_state": state,
        "active_behavior": active_behavior, "b_queries": performed_queries or None, "visible": visible,
        "b_final_message_id": final_message_id, "now": now,
    }, expect_rows=1)
    # Core INSERTs (the rows are not needed as objects afterwards): the messages in one multi-row statement
    await run_core(session, _INSERT_INTERACTION, {
        "id": interaction_id, "org_id": org_id, "conversation_id": conversation_id, "sequence": sequence,
        "insights": insights, "replay": replay, "completed_at": now, "created_at": now,
    })
    await run_core(session, _INSERT_MESSAGES, [
        {"audio_key": None, "audio_content_type": None, "format": "text", **fields, "org_id": org_id,
         "conversation_id": conversation_id, "interaction_id": interaction_id, "position": after_position + offset}
        for offset, fields in enumerate(messages, start=1)
    ])
    return visible


async def mark_simulated(session: AsyncSession, org_id: str, conversation_id: str, run_id: str) -> None:
    """Mark a conversation as made by simulation run ``run_id`` (hidden from ordinary listings)."""
    await session.execute(
        update(Conversation)
        .where(Conversation.org_id == org_id, Conversation.id == conversation_id)
        .values(simulation_run_id=run_id)
        .execution_options(synchronize_session=False)
    )
