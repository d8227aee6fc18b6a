"""Conversation and interaction feedback (seed 002 "V1/conversation"; absent from the OpenAPI).

Paths, bodies and permissions follow the seed text:

* ``GET  /conversation/feedback/?type=conversation|interaction`` (filters ``conversation_id``, ``interaction_id``,
  ``limit`` ≤ 50 default 10, ``continuation_token``, ``sort_by`` over ``created_at``, ``user_id``, ``user_org_id``,
  ``conversation_id`` and, for interactions, ``feedback_content.interaction_id``). Rows the caller lacks
  ``Conversation:GetConversationFeedback`` / ``Conversation:GetInteractionFeedback`` on are left out.
* ``POST /conversation/{id}/feedback`` ``{comment}`` → 200 ``{conversation_feedback_id}``;
  ``POST|DELETE /conversation/{id}/feedback/{feedback_id}`` (update body ``{feedback}``) → 204.
  Permission ``Conversation:UpsertConversationFeedback``.
* ``POST /conversation/{id}/interaction/{iid}/feedback`` ``{feedback: {type: "interaction_comment", comment}}`` → 200
  ``{interaction_feedback_id}``; ``POST|DELETE …/feedback/{feedback_id}`` → 204 (update body
  ``{feedback: {type, comment, resolved}}``; a resolved comment's text cannot change → 400). Permission
  ``Conversation:UpsertInteractionFeedback``.

The seed shows only the ``interaction_comment`` variant of an interaction feedback; it is the one accepted.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.conversation import repository as repo
from tertulia.conversation.service import conv_attrs, require_conversation
from tertulia.core.errors import BadRequest, NotFound
from tertulia.core.paging import page_list, parse_sort_by
from tertulia.feedback.models import ConversationFeedback
from tertulia.feedback.schemas import (
    ConversationFeedbackCreated,
    CreateConversationFeedbackRequest,
    CreateInteractionFeedbackRequest,
    FeedbackInstance,
    GetFeedbacksResponse,
    InteractionFeedbackCreated,
    UpdateConversationFeedbackRequest,
    UpdateInteractionFeedbackRequest,
)


async def create_conversation_feedback(
    session: AsyncSession, who: Principal, conversation_id: str, body: CreateConversationFeedbackRequest
) -> ConversationFeedbackCreated:
    conv = await require_conversation(session, who, conversation_id)
    who.require("Conversation:UpsertConversationFeedback", conv_attrs(conv))
    row = ConversationFeedback(org_id=who.org_id, conversation_id=conv.id, interaction_id=None, user_id=who.user_id,
                               user_org_id=who.org_id, content={"type": "conversation", "comment": body.comment})
    session.add(row)
    await session.flush()
    return ConversationFeedbackCreated(conversation_feedback_id=row.id)


async def create_interaction_feedback(
    session: AsyncSession, who: Principal, conversation_id: str, interaction_id: str, body: CreateInteractionFeedbackRequest
) -> InteractionFeedbackCreated:
    conv = await require_conversation(session, who, conversation_id)
    if await repo.get_interaction(session, who.org_id, conv.id, interaction_id) is None:
        raise NotFound(f"Interaction {interaction_id} not found in conversation {conversation_id}.")
    who.require("Conversation:UpsertInteractionFeedback", conv_attrs(conv))
    content = {"type": "interaction_comment", "interaction_id": interaction_id, "comment": body.feedback.comment,
               "resolved": False}
    row = ConversationFeedback(org_id=who.org_id, conversation_id=conv.id, interaction_id=interaction_id,
                               user_id=who.user_id, user_org_id=who.org_id, content=content)
    session.add(row)
    await session.flush()
    return InteractionFeedbackCreated(interaction_feedback_id=row.id)


async def _feedback(
    session: AsyncSession, who: Principal, conversation_id: str, interaction_id: str | None, feedback_id: str, permission: str
) -> ConversationFeedback:
    conv = await require_conversation(session, who, conversation_id)
    query = select(ConversationFeedback).where(
        ConversationFeedback.org_id == who.org_id,
        ConversationFeedback.conversation_id == conv.id,
        ConversationFeedback.id == feedback_id,
    )
    query = query.where(
        ConversationFeedback.interaction_id.is_(None) if interaction_id is None
        else ConversationFeedback.interaction_id == interaction_id
    )
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"Feedback {feedback_id} not found.")
    who.require(permission, conv_attrs(conv))
    return row


async def update_conversation_feedback(
    session: AsyncSession, who: Principal, conversation_id: str, feedback_id: str, body: UpdateConversationFeedbackRequest
) -> None:
    row = await _feedback(session, who, conversation_id, None, feedback_id, "Conversation:UpsertConversationFeedback")
    row.content = {**row.content, "comment": body.feedback}
    await session.flush()


async def update_interaction_feedback(
    session: AsyncSession, who: Principal, conversation_id: str, interaction_id: str, feedback_id: str,
    body: UpdateInteractionFeedbackRequest,
) -> None:
    row = await _feedback(session, who, conversation_id, interaction_id, feedback_id, "Conversation:UpsertInteractionFeedback")
    if row.content.get("resolved") and body.feedback.comment != row.content.get("comment"):
        raise BadRequest("The comment of a resolved feedback cannot be changed.")
    row.content = {**row.content, "comment": body.feedback.comment, "resolved": body.feedback.resolved}
    await session.flush()


async def delete_feedback(
    session: AsyncSession, who: Principal, conversation_id: str, interaction_id: str | None, feedback_id: str
) -> None:
    permission = ("Conversation:UpsertConversationFeedback" if interaction_id is None
                  else "Conversation:UpsertInteractionFeedback")
    row = await _feedback(session, who, conversation_id, interaction_id, feedback_id, permission)
    await session.delete(row)
    await session.flush()


async def list_feedbacks(
    session: AsyncSession, who: Principal, kind: str, conversation_ids: list[str], interaction_ids: list[str],
    sort_by: list[str], limit: int, offset: int,
) -> GetFeedbacksResponse:
    fields = ["created_at", "user_id", "user_org_id", "conversation_id"]
    if kind == "interaction":
        fields.append("feedback_content.interaction_id")
    sort = parse_sort_by(sort_by, fields)
    query = select(ConversationFeedback).where(ConversationFeedback.org_id == who.org_id)
    query = query.where(ConversationFeedback.interaction_id.is_(None) if kind == "conversation"
                        else ConversationFeedback.interaction_id.is_not(None))
    if conversation_ids:
        query = query.where(ConversationFeedback.conversation_id.in_(conversation_ids))
    if kind == "interaction" and interaction_ids:
        query = query.where(ConversationFeedback.interaction_id.in_(interaction_ids))
    rows = list((await session.scalars(query.order_by(ConversationFeedback.created_at, ConversationFeedback.id))).all())
    for key in reversed(sort):
        name = "interaction_id" if key.field == "feedback_content.interaction_id" else key.field
        rows.sort(key=lambda r, n=name: getattr(r, n) or "", reverse=key.descending)
    permission = "Conversation:GetConversationFeedback" if kind == "conversation" else "Conversation:GetInteractionFeedback"
    convs = {}
    visible = []
    for r in rows:
        if r.conversation_id not in convs:
            convs[r.conversation_id] = await repo.get_conversation(session, who.org_id, r.conversation_id)
        conv = convs[r.conversation_id]
        if conv is not None and who.has(permission, conv_attrs(conv)):
            visible.append(r)
    page = page_list(visible, limit, offset)
    return GetFeedbacksResponse(
        feedbacks=[FeedbackInstance(id=r.id, user_id=r.user_id, user_org_id=r.user_org_id, conversation_id=r.conversation_id,
                                    created_at=r.created_at, feedback_content=r.content) for r in page.items],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
    )
