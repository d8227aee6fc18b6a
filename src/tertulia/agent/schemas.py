"""Wire models of the agent endpoints, named after the spec's schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from tertulia.core.languages import LanguageCode
from tertulia.core.schemas import NonEmptyStr, UserInfo, WireModel


class CreateAgentRequest(WireModel):
    agent_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)] = Field(
        description="The name of the new agent."
    )


class CreateAgentResponse(BaseModel):
    id: str = Field(description="The ID of the newly created agent.")


class RelationshipToDeveloperInput(WireModel):
    ownership: NonEmptyStr
    type: NonEmptyStr
    conversation_visibility: NonEmptyStr
    thought_visibility: NonEmptyStr


class IdentityInput(WireModel):
    name: NonEmptyStr
    role: NonEmptyStr
    developed_by: NonEmptyStr
    default_spoken_language: LanguageCode
    relationship_to_developer: RelationshipToDeveloperInput


class VoiceConfig(WireModel):
    voice_id: NonEmptyStr = Field(description="Voice id understood by the configured text-to-speech adapter.")


class CreateAgentVersionRequest(WireModel):
    initials: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=3)] | None = None
    identity: IdentityInput | None = None
    background: NonEmptyStr | None = None
    behaviors: list[NonEmptyStr] | None = None
    communication_patterns: list[NonEmptyStr] | None = None
    voice_config: VoiceConfig | None = None


class CreateAgentVersionResponse(BaseModel):
    version: int
    created_at: AwareDatetime


class AgentInstance(BaseModel):
    id: str
    name: str
    deprecated: bool
    latest_version: int | None


class GetAgentsResponse(BaseModel):
    agents: list[AgentInstance]
    has_more: bool
    continuation_token: int | None


class VoiceConfigInstance(BaseModel):
    voice_id: str
    stability: float = 0
    similarity_boost: float = 0
    style: float = 0


class RelationshipToDeveloper(BaseModel):
    ownership: str
    type: str
    conversation_visibility: str
    thought_visibility: str


class Identity(BaseModel):
    name: str
    role: str
    developed_by: str
    default_spoken_language: str
    relationship_to_developer: RelationshipToDeveloper


class AgentVersionInstance(BaseModel):
    org_id: str
    agent_id: str
    version: int
    voice_config: VoiceConfigInstance | None
    initials: str
    identity: Identity
    background: str
    behaviors: list[str]
    communication_patterns: list[str]
    created_at: AwareDatetime
    creator: UserInfo


class GetAgentVersionsResponse(BaseModel):
    agent_versions: list[AgentVersionInstance]
    has_more: bool
    continuation_token: int | None
