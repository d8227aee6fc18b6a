"""Wire models of the feedback endpoints (seed 002; absent from the OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from tertulia.core.schemas import NonEmptyStr, WireModel


class CreateConversationFeedbackRequest(WireModel):
    comment: NonEmptyStr = Field(description="The comment for the conversation.")


class UpdateConversationFeedbackRequest(WireModel):
    feedback: NonEmptyStr = Field(description="The feedback message.")


class InteractionCommentInput(WireModel):
    type: Literal["interaction_comment"]
    comment: NonEmptyStr


class InteractionCommentUpdate(WireModel):
    type: Literal["interaction_comment"]
    comment: NonEmptyStr
    resolved: bool = False


class CreateInteractionFeedbackRequest(WireModel):
    feedback: InteractionCommentInput


class UpdateInteractionFeedbackRequest(WireModel):
    feedback: InteractionCommentUpdate


class ConversationFeedbackCreated(BaseModel):
    conversation_feedback_id: str


class InteractionFeedbackCreated(BaseModel):
    interaction_feedback_id: str


class FeedbackInstance(BaseModel):
    id: str
    user_id: str
    user_org_id: str
    conversation_id: str
    created_at: AwareDatetime
    feedback_content: dict[str, Any]


class GetFeedbacksResponse(BaseModel):
    feedbacks: list[FeedbackInstance]
    has_more: bool
    continuation_token: int | None


FeedbackKind = Annotated[Literal["conversation", "interaction"], Field(description="The type of feedback to retrieve.")]
