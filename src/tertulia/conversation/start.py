"""Everything a create/interact request checks BEFORE the status line: permissions, input, the conversation slot
(create) or the lease (interact). What it returns is a ``TurnPlan`` that ``turn.stream_turn`` runs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.conversation import lease
from tertulia.conversation import repository as repo
from tertulia.conversation.models import Conversation
from tertulia.conversation.schemas import CreateConversationRequest
from tertulia.conversation.turn import PendingMessage, TurnPlan
from tertulia.conversation.versions import PinnedVersions, resolve_pinned
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from tertulia.core.ids import new_object_id
from tertulia.engine.contract import StatePointer, TranscriptMessage, TurnRequest
from tertulia.runtime import Runtime
from tertulia.user.models import User, UserModelEntry

EXTERNAL_SENDER = "External event"
# External-event timestamps must be in the past; clients stamp them from their own clocks (the SDK's integration test
# places them 1-2 s after the latest message and sends at once), so a few seconds of skew are tolerated.
CLOCK_SKEW = timedelta(seconds=5)


def compile_action_filter(pattern: str | None) -> re.Pattern[str]:
    try:
        return re.compile(pattern if pattern is not None else "^.*$")
    except re.error as exc:
        raise Unprocessable(f"current_agent_action_type is not a valid regular expression: {exc}.") from exc


def wants_actions(who: Principal, attrs: dict[str, Any], emit: bool | None) -> bool:
    """``current-agent-action`` events need ``Conversation:GetInteractionInsights``. The current spec emits them by
    default (filtered by ``current_agent_action_type``); the older ``emit_current_agent_action_event=false`` still
    turns them off."""
    return emit is not False and who.has("Conversation:GetInteractionInsights", attrs)


def _user_name(user: User | None, user_id: str) -> str:
    if user is None:
        return user_id
    return f"{user.first_name} {user.last_name}".strip() or user_id


def _agent_name(agent: dict[str, Any]) -> str:
    return str((agent.get("identity") or {}).get("name") or "Agent")


async def _user_context(session: AsyncSession, org_id: str, user_id: str) -> tuple[User | None, list[str]]:
    user = await session.scalar(select(User).where(User.org_id == org_id, User.user_id == user_id))
    entries = await session.scalars(
        select(UserModelEntry)
        .where(UserModelEntry.org_id == org_id, UserModelEntry.user_id == user_id)
        .order_by(UserModelEntry.updated_at)
    )
    model = [e.content for e in entries.all()]
    if user is not None:
        model.extend(str(c) for c in (user.additional_context or []))
    return user, model


async def _turn_request(
    session: AsyncSession,
    conv: Conversation,
    versions: PinnedVersions,
    interaction_id: str,
    new: list[PendingMessage],
    user: User | None,
    user_model: list[str],
    agent_message_id: str,
) -> TurnRequest:
    history = await repo.transcript(session, conv.org_id, conv.id)
    performed: list[str] = []
    for replay in await repo.interaction_replays(session, conv.org_id, conv.id):
        performed.extend(q for q in replay.get("performed_queries") or [] if q not in performed)
    transcript = [TranscriptMessage(m.id, m.message_type, m.message, m.created_at, m.interaction_id) for m in history]
    transcript += [TranscriptMessage(m.id, m.message_type, m.text, m.created_at, interaction_id) for m in new]
    returning = await repo.has_earlier_finished(
        session, conv.org_id, conv.user_id, conv.service_id, conv.created_at, conv.id
    )
    return TurnRequest(
        org_id=conv.org_id,
        conversation_id=conv.id,
        user_id=conv.user_id,
        interaction_id=interaction_id,
        agent=versions.agent,
        graph=versions.graph,
        referenced_graphs=versions.referenced_graphs,
        llm_model_preferences=versions.llm_model_preferences,
        behaviors=versions.behaviors,
        previous_behavior=tuple(conv.active_dynamic_behavior) if conv.active_dynamic_behavior else None,
        state=StatePointer.from_json(conv.state) if conv.state else None,
        is_returning_user=returning,
        transcript=transcript,
        new_message_ids=[m.id for m in new],
        user_model=user_model,
        user_preferences=dict(user.preferences or {}) if user is not None else {},
        now=utcnow(),
        agent_message_id=agent_message_id,
        performed_queries=performed,
    )


def check_voice_output(runtime: Runtime, agent: dict[str, Any], response_format: str) -> None:
    if response_format != "voice":
        return
    if not agent.get("voice_config"):
        raise BadRequest("The agent does not have voice config specified; voice responses are unavailable.")
    if runtime.tts is None:
        raise BadRequest("Voice responses need a text-to-speech adapter, and none is configured on this server.")


async def plan_create(
    session: AsyncSession,
    runtime: Runtime,
    who: Principal,
    body: CreateConversationRequest,
    response_format: str,
    action_type: str | None,
    emit: bool | None,
) -> TurnPlan:
    from tertulia.service.resolution import resolve_version_set

    action_filter = compile_action_filter(action_type)
    attrs = {"user_id": who.user_id, "service_id": body.service_id}
    who.require("Conversation:CreateConversation", attrs)
    if body.initial_message_type is not None and body.initial_message is None:
        raise Unprocessable("initial_message_type can only be specified together with initial_message.")
    resolved = await resolve_version_set(session, who.org_id, body.service_id, body.service_version_set_name)
    check_voice_output(runtime, resolved.agent, response_format)
    now = utcnow()
    open_key = f"{who.user_id}|{body.service_id}"
    conv = Conversation(
        id=new_object_id(), org_id=who.org_id, user_id=who.user_id, service_id=body.service_id,
        version_set_info=resolved.version_set_info, is_test=body.is_test, tags=dict(body.tags), open_key=open_key,
        created_at=now, num_messages=0, num_interactions=0, is_finished=False,
    )
    user, user_model = await _user_context(session, who.org_id, who.user_id)
    interaction_id = new_object_id()
    new: list[PendingMessage] = []
    if body.initial_message is not None:
        kind = body.initial_message_type or "user-message"
        sender = EXTERNAL_SENDER if kind == "external-event" else _user_name(user, who.user_id)
        new.append(PendingMessage(new_object_id(), kind, body.initial_message, utcnow(), sender))
    versions = PinnedVersions(
        resolved.agent, resolved.graph, resolved.referenced_graphs, resolved.llm_model_preferences, resolved.behaviors
    )
    agent_message_id = new_object_id()
    request = await _turn_request(session, conv, versions, interaction_id, new, user, user_model, agent_message_id)
    request.voice_response = response_format == "voice"

    def holding(token: str) -> Conversation:  # the row as inserted by the lease (a fresh object per attempt)
        return Conversation(
            id=conv.id, org_id=conv.org_id, user_id=conv.user_id, service_id=conv.service_id,
            version_set_info=conv.version_set_info, is_test=conv.is_test, tags=dict(conv.tags), open_key=open_key,
            lock_token=token, lock_expires_at=now + timedelta(seconds=lease.LEASE_SECONDS), created_at=now,
            num_messages=0, num_interactions=0, is_finished=False,
        )

    reserved = await lease.reserve(runtime.db.sessions, holding, who.org_id, open_key)  # the last step: no undo
    if reserved is None:
        raise BadRequest(
            "The user already has an unfinished conversation for this service; finish it before starting another."
        )
    token = reserved.lock_token
    return TurnPlan(
        org_id=who.org_id,
        conversation_id=conv.id,
        user_id=who.user_id,
        service_id=body.service_id,
        interaction_id=interaction_id,
        agent_message_id=agent_message_id,
        token=token,
        is_opening=True,
        request=request,
        agent_sender=_agent_name(resolved.agent),
        new_messages=new,
        leading_events=[{"type": "conversation-created", "conversation_id": conv.id}],
        emit_actions=wants_actions(who, attrs, emit),
        action_filter=action_filter,
        response_format=response_format,
    )


def _parse_timestamp(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise Unprocessable(f"external_event_message_timestamp {raw!r} is not an ISO-8601 datetime.") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def load_for_turn(session: AsyncSession, who: Principal, conversation_id: str, permission: str) -> Conversation:
    conv = await repo.get_conversation(session, who.org_id, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} not found.")
    who.require("User:UpdateUserInfo", {"user_id": conv.user_id})
    who.require(permission, {"user_id": conv.user_id, "service_id": conv.service_id})
    if conv.is_finished:
        raise Conflict(f"Conversation {conversation_id} is already finished.")
    return conv


async def plan_interact(
    session: AsyncSession,
    runtime: Runtime,
    who: Principal,
    conversation_id: str,
    *,
    message_type: str,
    text: str,
    external_contents: list[str],
    external_timestamps: list[str],
    response_format: str,
    action_type: str | None,
    emit: bool | None,
    audio: tuple[bytes, str] | None = None,
) -> TurnPlan:
    action_filter = compile_action_filter(action_type)
    conv = await load_for_turn(session, who, conversation_id, "Conversation:InteractWithConversation")
    if message_type not in ("user-message", "external-event", "skip"):
        raise Unprocessable("initial_message_type must be user-message, external-event or skip.")
    if message_type == "skip":
        if text or external_contents or external_timestamps:
            raise BadRequest("A skip carries no message and no external events.")
    elif not text.strip():
        raise BadRequest("The user message is empty.")
    if len(external_contents) != len(external_timestamps):
        raise BadRequest("external_event_message_content and external_event_message_timestamp must have the same length.")
    if any(not c.strip() for c in external_contents):
        raise BadRequest("External event messages cannot be empty.")
    stamps = [_parse_timestamp(t) for t in external_timestamps]
    now = utcnow()
    history = await repo.transcript(session, conv.org_id, conv.id)
    last = max((m.created_at for m in history), default=conv.created_at)
    if any(s > now + CLOCK_SKEW for s in stamps):
        raise BadRequest("The timestamps for external event messages must be in the past.")
    if any(s <= last for s in stamps) or any(b < a for a, b in zip(stamps, stamps[1:], strict=False)):
        raise BadRequest(
            "The timestamps for external event messages must come after the conversation's last message, in "
            "chronological order."
        )
    versions = await resolve_pinned(session, conv.org_id, conv.service_id, conv.version_set_info)
    check_voice_output(runtime, versions.agent, response_format)
    user, user_model = await _user_context(session, conv.org_id, conv.user_id)
    user_sender = _user_name(user, conv.user_id)
    new = [PendingMessage(new_object_id(), "external-event", c.strip(), s, EXTERNAL_SENDER)
           for c, s in zip(external_contents, stamps, strict=True)]
    leading: list[dict[str, Any]] = []
    if message_type != "skip":
        main = PendingMessage(
            new_object_id(), message_type, text.strip(), max(now, *(s for s in stamps)) if stamps else now,
            EXTERNAL_SENDER if message_type == "external-event" else user_sender,
            format="voice" if audio is not None else "text",
        )
        new.append(main)
        leading.append({"type": "user-message-available", "message_id": main.id, "user_message": main.text})
    token = await lease.acquire(runtime.db.sessions, conv.org_id, conv.id)
    if token is None:
        raise Conflict("A related operation is in progress on this conversation, or it has finished; retry later.")
    interaction_id = new_object_id()
    agent_message_id = new_object_id()
    try:  # the lease is held from here on: any failure before the stream starts releases it
        request = await _turn_request(session, conv, versions, interaction_id, new, user, user_model, agent_message_id)
        request.voice_response = response_format == "voice"
        if audio is not None and message_type != "skip":  # stored once the turn may run; the stream's cleanup removes it
            from tertulia.conversation.voice import store_audio

            new[-1].audio_key, new[-1].audio_content_type = await store_audio(runtime, conv, new[-1].id, *audio)
    except BaseException:
        await lease.release(runtime.db.sessions, conv.org_id, conv.id, token)
        raise
    attrs = {"user_id": conv.user_id, "service_id": conv.service_id}
    return TurnPlan(
        org_id=conv.org_id,
        conversation_id=conv.id,
        user_id=conv.user_id,
        service_id=conv.service_id,
        interaction_id=interaction_id,
        agent_message_id=agent_message_id,
        token=token,
        is_opening=False,
        request=request,
        agent_sender=_agent_name(versions.agent),
        new_messages=new,
        leading_events=leading,
        emit_actions=wants_actions(who, attrs, emit),
        action_filter=action_filter,
        response_format=response_format,
    )
