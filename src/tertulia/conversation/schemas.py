"""Wire models of the conversation endpoints, named after the spec's schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from tertulia.core.ids import ObjectIdStr
from tertulia.core.schemas import NonEmptyStr, WireModel

ConversationTagKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[\w\s_]+$")]
ConversationTagValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ModifyTagValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[\w\s]+$")]
MAX_TAGS = 20

DEFAULT_RECOMMEND_CONTEXT = (
    "\nPERSONA:\nName: User\nBackground: A typical person seeking this service.\n---\nSCENARIO:\n"
    "Name: Complete Service\nObjective: Successfully complete the service interaction.\n"
    "Instructions: Engage naturally with the agent to achieve the service objective.\n"
)


class CreateConversationRequest(WireModel):
    service_id: ObjectIdStr = Field(description="The identifier of the service to create a conversation in.")
    service_version_set_name: str = Field(
        "release", description="The version set of the service to use. If not provided, the `release` version set is used."
    )
    initial_message: NonEmptyStr | None = Field(
        None,
        description="The initial user or agent inner thought message to send to the service. If not provided, the "
        "conversation will start with an agent message.",
    )
    initial_message_type: Literal["user-message", "external-event"] | None = Field(
        None, description="The type of the `initial_message`. Can only be specified if `initial_message` is provided."
    )
    tags: Annotated[dict[ConversationTagKey, ConversationTagValue | None], Field(max_length=MAX_TAGS)] = Field(
        default_factory=dict, description="A list of tags for the conversation (at most 20)."
    )
    is_test: bool = Field(
        False, description="Test traffic: the conversation gets no post-session analysis when it finishes. Immutable."
    )


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


class RecommendResponsesRequest(WireModel):
    context: NonEmptyStr = Field(
        DEFAULT_RECOMMEND_CONTEXT, description="The context under which the recommended responses should be generated."
    )


class RecommendResponsesResponse(BaseModel):
    recommended_responses: list[str]


class GenerateConversationStarterRequest(WireModel):
    service_id: ObjectIdStr
    service_version_set_name: str = "release"
    facets: Annotated[list[NonEmptyStr], Field(min_length=1)]
    min_count: Annotated[int, Field(gt=0, le=10)]
    max_count: Annotated[int, Field(gt=0, le=10)]
    generation_instructions: NonEmptyStr


class Prompt(BaseModel):
    prompt: str
    facets: list[str]


class GenerateConversationStarterResponse(BaseModel):
    prompts: list[Prompt]


class MessageSourceResponse(BaseModel):
    url: str
    expires_at: AwareDatetime
    content_type: Literal["audio/mpeg", "audio/wav"]
