"""HTTP routes of conversation and interaction feedback (seed 002; the OpenAPI does not list them): paths, bodies,
statuses and permissions exactly as the seed gives them (see ``service.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Response

from tertulia.auth.deps import SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.feedback import schemas as fb
from tertulia.feedback import service

router = domain_router("Conversation")

Cid = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the conversation.")]
Iid = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the interaction.")]
Fid = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the feedback.")]
Upsert = Depends(require("Conversation:UpsertConversationFeedback"))
UpsertInteraction = Depends(require("Conversation:UpsertInteractionFeedback"))


@router.get("/conversation/feedback/", operation_id="get-conversation-feedbacks", response_model=fb.GetFeedbacksResponse)
async def get_conversation_feedbacks(
    session: SessionDep,
    who: Annotated[Principal, Depends(require())],
    type: Annotated[fb.FeedbackKind, Query()],  # noqa: A002
    conversation_id: Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]], Query()] = [],  # noqa: B006
    interaction_id: Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]], Query()] = [],  # noqa: B006
    limit: Annotated[int, Query(gt=0, le=50)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> fb.GetFeedbacksResponse:
    return await service.list_feedbacks(session, who, type, conversation_id, interaction_id, sort_by, limit, continuation_token)


@router.post("/conversation/{conversation_id}/feedback", operation_id="create-conversation-feedback",
             response_model=fb.ConversationFeedbackCreated)
async def create_conversation_feedback(
    conversation_id: Cid, body: fb.CreateConversationFeedbackRequest, session: SessionDep,
    who: Annotated[Principal, Upsert],
) -> fb.ConversationFeedbackCreated:
    return await service.create_conversation_feedback(session, who, conversation_id, body)


@router.post("/conversation/{conversation_id}/feedback/{feedback_id}", operation_id="update-conversation-feedback",
             status_code=204, response_class=Response)
async def update_conversation_feedback(
    conversation_id: Cid, feedback_id: Fid, body: fb.UpdateConversationFeedbackRequest, session: SessionDep,
    who: Annotated[Principal, Upsert],
) -> Response:
    await service.update_conversation_feedback(session, who, conversation_id, feedback_id, body)
    return Response(status_code=204)


@router.delete("/conversation/{conversation_id}/feedback/{feedback_id}", operation_id="delete-conversation-feedback",
               status_code=204, response_class=Response)
async def delete_conversation_feedback(
    conversation_id: Cid, feedback_id: Fid, session: SessionDep, who: Annotated[Principal, Upsert],
) -> Response:
    await service.delete_feedback(session, who, conversation_id, None, feedback_id)
    return Response(status_code=204)


@router.post("/conversation/{conversation_id}/interaction/{interaction_id}/feedback",
             operation_id="create-interaction-feedback", response_model=fb.InteractionFeedbackCreated)
async def create_interaction_feedback(
    conversation_id: Cid, interaction_id: Iid, body: fb.CreateInteractionFeedbackRequest, session: SessionDep,
    who: Annotated[Principal, UpsertInteraction],
) -> fb.InteractionFeedbackCreated:
    return await service.create_interaction_feedback(session, who, conversation_id, interaction_id, body)


@router.post("/conversation/{conversation_id}/interaction/{interaction_id}/feedback/{feedback_id}",
             operation_id="update-interaction-feedback", status_code=204, response_class=Response)
async def update_interaction_feedback(
    conversation_id: Cid, interaction_id: Iid, feedback_id: Fid, body: fb.UpdateInteractionFeedbackRequest,
    session: SessionDep, who: Annotated[Principal, UpsertInteraction],
) -> Response:
    await service.update_interaction_feedback(session, who, conversation_id, interaction_id, feedback_id, body)
    return Response(status_code=204)


@router.delete("/conversation/{conversation_id}/interaction/{interaction_id}/feedback/{feedback_id}",
               operation_id="delete-interaction-feedback", status_code=204, response_class=Response)
async def delete_interaction_feedback(
    conversation_id: Cid, interaction_id: Iid, feedback_id: Fid, session: SessionDep,
    who: Annotated[Principal, UpsertInteraction],
) -> Response:
    await service.delete_feedback(session, who, conversation_id, interaction_id, feedback_id)
    return Response(status_code=204)
