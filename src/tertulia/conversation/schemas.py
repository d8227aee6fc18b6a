"""Wire models of the conversation endpoints, named after the spec's schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from tertulia.core.schemas import NonEmptyStr, WireModel

ConversationTagKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[\w\s_]+$")]
ConversationTagValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ModifyTagValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[\w\s]+$")]
MAX_TAGS = 20


class VersionSetInfo(BaseModel):
    name: str
    agent_version_info: tuple[str, int]
    service_hierarchical_state_machine_version_info: tuple[str, int]
    llm_model_preferences: dict[str, Any]


class ConversationInstance(BaseModel):
    id: str
    user_id: str
    created_at: AwareDatetime
    is_finished: bool
    is_analyzed: bool
    completed_post_processings: list[str]
    final_message: str
    service_id: str
    version_set_info: VersionSetInfo | None
    num_messages: int
    tags: dict[str, str | None]


class GetConversationsResponse(BaseModel):
    conversations: list[ConversationInstance]
    has_more: bool
    continuation_token: int | None


class MessageInstance(BaseModel):
    id: str
    interaction_id: str
    created_at: AwareDatetime
    timestamp: AwareDatetime = Field(description="When the message was sent: seed 002's name for `created_at`.")
    sender: str
    message: str
    format: Literal["text", "voice"]
    message_type: Literal["user-message", "agent-message", "agent-inner-thought", "external-event"]


class GetConversationMessagesResponse(BaseModel):
    messages: list[MessageInstance]
    has_more: bool
    continuation_token: int | None


class ModifyConversationTagsRequest(WireModel):
    updates: Annotated[dict[ConversationTagKey, ModifyTagValue | None], Field(max_length=MAX_TAGS)] = Field(
        default_factory=dict,
        description="A mapping of tags to add or update on the conversation. Existing tags not included here remain unchanged.",
    )
    deletes: list[NonEmptyStr] = Field(default_factory=list, description="A list of tags to remove from the conversation.")


class MessageSourceResponse(BaseModel):
    url: str
    expires_at: AwareDatetime
    content_type: Literal["audio/mpeg", "audio/wav"]
