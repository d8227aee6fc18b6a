"""Wire models of the service endpoints, named after the spec's schemas.

``llm_name`` is a routing key, not a closed enum: the SDK can only send its own ``LLMType`` values, other clients
may send any name. The engine maps each name to a configured model (falling back to its default model), so a
self-hosted deployment can use local model names here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from tertulia.core.ids import ObjectIdStr
from tertulia.core.schemas import NonEmptyStr, Tag, TagDict, UserInfo, WireModel

Keyterm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[a-z-]+( [a-z-]+){0,2}$")]
Keyterms = Annotated[list[Keyterm], Field(max_length=20)]
VersionSetName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
InteractionName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class LLMConfig(WireModel):
    llm_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)] = Field(
        description="A routing key the engine maps to a configured model (any SDK LLMType value, or a local name)."
    )
    params: dict[str, Any] | None = {}


class VersionSet(WireModel):
    """A null version number means "the latest version when a conversation starts"; a number that is not a version
    of the service's agent / graph is refused by the service (400), like any unknown version.

    The spec requires all three fields. ``llm_model_preferences`` is required here too; the two version numbers are
    required-but-nullable there, and a missing one is taken as null: the official SDK serialises request bodies with
    ``exclude_none=True``, so "latest" (None) reaches the server as an absent key."""

    agent_version_number: int | None = None
    service_hierarchical_state_machine_version_number: int | None = None
    llm_model_preferences: dict[InteractionName, LLMConfig]

    def stored(self) -> dict[str, Any]:
        return {
            "agent_version_number": self.agent_version_number,
            "service_hierarchical_state_machine_version_number": self.service_hierarchical_state_machine_version_number,
            "llm_model_preferences": {
                k: {"llm_name": v.llm_name, "params": dict(v.params or {})} for k, v in self.llm_model_preferences.items()
            },
        }


class CreateServiceRequest(WireModel):
    service_hierarchical_state_machine_id: ObjectIdStr
    agent_id: ObjectIdStr
    name: NonEmptyStr
    description: NonEmptyStr
    is_active: bool
    release_version_set: VersionSet | None = None
    keyterms: Keyterms
    tags: TagDict


class CreateServiceResponse(BaseModel):
    id: str


class UpdateServiceRequest(WireModel):
    name: NonEmptyStr | None = None
    description: NonEmptyStr | None = None
    is_active: bool | None = None
    agent_id: ObjectIdStr | None = None
    service_hierarchical_state_machine_id: ObjectIdStr | None = None
    tags: TagDict | None = None
    keyterms: Keyterms | None = None


class UpsertServiceVersionSetRequest(WireModel):
    version_set: VersionSet


class LLMConfigOutput(BaseModel):
    llm_name: str
    params: dict[str, Any] = {}


class VersionSetOutput(BaseModel):
    agent_version_number: int | None
    service_hierarchical_state_machine_version_number: int | None
    llm_model_preferences: dict[str, LLMConfigOutput]


class ServiceInstance(BaseModel):
    id: str
    name: str
    version_sets: dict[str, VersionSetOutput]
    description: str
    is_active: bool
    service_hierarchical_state_machine_id: str
    agent_id: str
    tags: list[Tag]
    keyterms: list[str]
    creator: UserInfo
    updated_by: UserInfo


class FilterValues(BaseModel):
    tags: list[str]


class GetServicesResponse(BaseModel):
    services: list[ServiceInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: FilterValues | None
