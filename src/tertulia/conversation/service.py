"""Conversation use cases (a plain CRUD domain; the turns are ``tertulia.turns``): listing, messages, finish, tags,
insights, message sources."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.conversation import repository as repo
from tertulia.conversation.models import Conversation, Message
from tertulia.conversation.postprocessing import schedule_post_processing
from tertulia.conversation.schemas import (
    MAX_TAGS,
    ConversationInstance,
    GetConversationMessagesResponse,
    GetConversationsResponse,
    MessageInstance,
    ModifyConversationTagsRequest,
)
from tertulia.conversation.source import source_for
from tertulia.core.clock import utcnow
from tertulia.core.errors import ApiError, BadRequest, Conflict, NotFound
from tertulia.core.paging import apply_sort, fetch_page, page_list, parse_sort_by, parse_tag_filters, tags_match
from tertulia.runtime import Runtime

DEFAULT_MESSAGE_TYPES = ("external-event", "agent-message", "user-message")


SIMULATION_RUN_TAG = "simulation_run"  # the tag every simulated conversation carries: its run's id


def conv_attrs(conv: Conversation) -> dict[str, Any]:
    return {"user_id": conv.user_id, "service_id": conv.service_id}


async def require_conversation(session: AsyncSession, who: Principal, conversation_id: str) -> Conversation:
    conv = await repo.get_conversation(session, who.org_id, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} not found.")
    return conv


async def list_conversations(
    session: AsyncSession,
    who: Principal,
    *,
    user_ids: list[str],
    service_ids: list[str],
    is_finished: bool | None,
    ids: list[str],
    tags: list[str],
    sort_by: list[str],
    limit: int,
    offset: int,
) -> GetConversationsResponse:
    sort = parse_sort_by(sort_by, ["created_at"])
    tag_filters = parse_tag_filters(tags)
    # Simulated conversations are listed only when asked for: by id, or with a tag filter on SIMULATION_RUN_TAG.
    include_simulated = bool(ids) or any(f.key == SIMULATION_RUN_TAG for f in tag_filters)
    query = repo.conversations_query(who.org_id, user_ids, service_ids, is_finished, ids, include_simulated)
    query = apply_sort(query, sort, {"created_at": Conversation.created_at}, [Conversation.created_at.desc(), Conversation.id.desc()])
    if who.has("Conversation:GetConversation") and not tag_filters:
        page = await fetch_page(session, query, limit, offset)
    else:
        # Conditioned grants and JSON tag filters are checked per row (portable across SQLite and PostgreSQL).
        rows = [
            c
            for c in (await session.scalars(query)).all()
            if who.has("Conversation:GetConversation", conv_attrs(c)) and tags_match(c.tags or {}, tag_filters)
        ]
        page = page_list(rows, limit, offset)
    finals = await repo.messages_by_id(session, who.org_id, [c.final_message_id for c in page.items if c.final_message_id])
    return GetConversationsResponse(
        conversations=[conversation_instance(who, c, finals) for c in page.items],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
    )


def conversation_instance(who: Principal, conv: Conversation, finals: dict[str, Message]) -> ConversationInstance:
    attrs = conv_attrs(conv)
    final = finals.get(conv.final_message_id or "")
    show_final = final is not None and who.has("Conversation:GetMessage", attrs)
    show_versions = who.has("Service:GetVersionSet", {"service_id": conv.service_id})
    return ConversationInstance(
        id=conv.id,
        user_id=conv.user_id,
        created_at=conv.created_at,
        is_finished=conv.is_finished,
        is_analyzed=conv.is_analyzed,
        completed_post_processings=list(conv.completed_post_processings or []),
        final_message=final.message if show_final and final is not None else "",
        service_id=conv.service_id,
        version_set_info=conv.version_set_info if show_versions else None,
        num_messages=conv.num_messages,
        tags=dict(conv.tags or {}),
    )


async def list_messages(
    session: AsyncSession,
    who: Principal,
    conversation_id: str,
    *,
    ids: list[str],
    message_types: list[str],
    interaction_ids: list[str],
    sort_by: list[str],
    limit: int,
    offset: int,
) -> GetConversationMessagesResponse:
    conv = await require_conversation(session, who, conversation_id)
    sort = parse_sort_by(sort_by, ["interaction_id", "created_at", "timestamp"])  # timestamp: seed 002's name
    if not who.has("Conversation:GetMessage", conv_attrs(conv)):
        # Only messages the caller may read are returned: here, none.
        return GetConversationMessagesResponse(messages=[], has_more=False, continuation_token=None)
    types = list(dict.fromkeys(message_types or DEFAULT_MESSAGE_TYPES))
    query = repo.messages_query(who.org_id, conv.id, ids, types, interaction_ids)
    columns = {"interaction_id": Message.interaction_id, "created_at": Message.created_at,
               "timestamp": Message.created_at}
    tiebreak = [Message.position.asc()] if sort else [Message.position.desc()]
    page = await fetch_page(session, apply_sort(query, sort, columns, tiebreak), limit, offset)
    return GetConversationMessagesResponse(
        messages=[message_instance(m) for m in page.items], has_more=page.has_more, continuation_token=page.continuation_token
    )


def message_instance(m: Message) -> MessageInstance:
    return MessageInstance(
        id=m.id,
        interaction_id=m.interaction_id,
        created_at=m.created_at,
        timestamp=m.created_at,
        sender=m.sender,
        message=m.message,
        format=m.format,  # type: ignore[arg-type]
        message_type=m.message_type,  # type: ignore[arg-type]
    )


async def finish_conversation(session: AsyncSession, who: Principal, conversation_id: str) -> ApiError | None:
    """Finish a conversation and schedule its post-processing, in the request's transaction.

    The spec gives two rules for a conversation without content: "400: the conversation has no interactions" and
    "if the conversation has no messages, the conversation is deleted". In tertulia every message belongs to an
    interaction and a failed opening turn removes its conversation, so the only conversation without interactions
    is one whose opening turn never committed (a crashed process). Both rules apply to it: it is DELETED and the
    call answers 400 (returned, not raised, so the deletion commits). A conversation with interactions is finished
    normally (None: 204). A turn in flight holds the conversation's lease, so finishing then answers 409, as does an
    already-finished one: the finishing UPDATE is conditional on both, atomically with the rest of the change.
    """
    conv = await require_conversation(session, who, conversation_id)
    who.require("User:UpdateUserInfo", {"user_id": conv.user_id})
    who.require("Conversation:FinishConversation", conv_attrs(conv))
    if conv.is_finished:
        raise Conflict(f"Conversation {conversation_id} is already finished.")
    if not await repo.finish_if_free(session, who.org_id, conv.id, utcnow()):
        raise Conflict("A related operation is in progress on this conversation, or it has finished; retry later.")
    if await repo.count_interactions(session, who.org_id, conv.id) == 0:
        await session.execute(delete(Conversation).where(Conversation.org_id == who.org_id, Conversation.id == conv.id))
        return BadRequest("The conversation has no interactions; it was deleted.")
    conv = await repo.get_conversation(session, who.org_id, conv.id, refresh=True)
    assert conv is not None
    await schedule_post_processing(session, conv)
    return None


async def modify_tags(session: AsyncSession, who: Principal, conversation_id: str, body: ModifyConversationTagsRequest) -> None:
    conv = await require_conversation(session, who, conversation_id)
    who.require("Conversation:ModifyConversation", conv_attrs(conv))
    tags = dict(conv.tags or {})
    for key in body.deletes:
        tags.pop(key, None)
    tags.update(body.updates)
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"The conversation cannot contain more than {MAX_TAGS} tags.")
    conv.tags = tags
    await session.flush()


INSIGHT_DEFAULTS: dict[str, Any] = {
    "current_state_name": "",
    "current_state_action": "",
    "current_state_objective": "",
    "state_transition_logs": [],
    "working_memory": [],
    "reflections": [],
    "triggered_dynamic_behavior_set_version_info": None,
    "select_next_action_tool_call_logs": [],
    "engage_user_tool_call_logs": [],
}


async def interaction_insights(session: AsyncSession, who: Principal, conversation_id: str, interaction_id: str) -> dict[str, Any]:
    conv = await require_conversation(session, who, conversation_id)
    interaction = await repo.get_interaction(session, who.org_id, conv.id, interaction_id)
    if interaction is None:
        raise NotFound(f"Interaction {interaction_id} not found in conversation {conversation_id}.")
    attrs = conv_attrs(conv)
    who.require("Conversation:GetInteractionInsights", attrs)
    state = (interaction.insights or {}).get("state_machine") or (conv.version_set_info or {}).get(
        "service_hierarchical_state_machine_version_info", [None]
    )
    who.require("Organization:GetServiceHierarchicalStateMachine", {"service_hierarchical_state_machine_id": state[0]})
    body = {**INSIGHT_DEFAULTS, **(interaction.insights or {})}
    body.pop("state_machine", None)
    if not who.has("Conversation:GetMessage", attrs):
        body["reflections"] = []
    return body


async def message_source(
    session: AsyncSession, runtime: Runtime, who: Principal, conversation_id: str, message_id: str, long_lived: bool,
    base_url: str = "",
) -> dict[str, Any]:
    conv = await require_conversation(session, who, conversation_id)
    message = await repo.get_message(session, who.org_id, conv.id, message_id)
    if message is None:
        raise NotFound(f"Message {message_id} not found in conversation {conversation_id}.")
    who.require("Conversation:GetMessage", conv_attrs(conv))
    return await source_for(runtime, message, long_lived, base_url)
