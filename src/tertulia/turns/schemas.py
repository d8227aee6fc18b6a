"""Wire models of the turn endpoints (create, interact, simulate, recommendations, starters), named as the spec
(or, for simulate, seed 002) names them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tertulia.conversation.schemas import MAX_TAGS, ConversationTagKey, ConversationTagValue
from tertulia.core.ids import ObjectIdStr
from tertulia.core.schemas import NonEmptyStr, WireModel

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


class SimulateInteractionRequest(WireModel):
    agent_version_override: dict[str, Any] | None = None
    state_machine_version_override: dict[str, Any] | None = None


class SimulateInteractionResponse(BaseModel):
    agent_message: str
    conversation_ended: bool
