"""Wire models of the dynamic behavior set endpoints, named after the spec's schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tertulia.context_graph.schemas import ToolCallSpec
from tertulia.core.ids import ObjectIdStr
from tertulia.core.schemas import NonEmptyStr, TagDict, UserInfo, WireModel

Triggers = Annotated[list[NonEmptyStr], Field(min_length=1, max_length=50)]


class InjectInstructionAction(WireModel):
    type: Literal["inject-instruction"]
    instruction: NonEmptyStr
    overrides_instructions: bool


class ChangeToolCandidatesToolCallSpec(ToolCallSpec):
    tool_name: NonEmptyStr


class ChangeToolCandidatesAction(WireModel):
    type: Literal["change-tool-candidates"]
    tool_call_specs: list[ChangeToolCandidatesToolCallSpec]
    overrides_existing_tool_call_specs: bool


Action = Annotated[InjectInstructionAction | ChangeToolCandidatesAction, Field(discriminator="type")]


class InitialVersion(WireModel):
    is_active: bool
    conversation_triggers: Triggers
    actions: list[Action]


class CreateDynamicBehaviorSetRequest(WireModel):
    name: NonEmptyStr
    tags: TagDict
    applied_to_services: list[ObjectIdStr]
    initial_version: InitialVersion


class CreateDynamicBehaviorSetResponse(BaseModel):
    dynamic_behavior_set_id: str


class UpdateDynamicBehaviorSetRequest(WireModel):
    name: NonEmptyStr | None = None
    tags: TagDict | None = None
    applied_to_services: list[ObjectIdStr] | None = None
    is_active: bool | None = None


class CreateDynamicBehaviorSetVersionRequest(WireModel):
    conversation_triggers: Triggers
    actions: list[Action]


class CreateDynamicBehaviorSetVersionResponse(BaseModel):
    new_version_number: int


class DynamicBehaviorSetInstance(BaseModel):
    id: str
    name: str
    is_active: bool
    applied_to_services: list[str]
    tags: dict[str, str | None]
    created_at: AwareDatetime
    creator: UserInfo
    updated_at: AwareDatetime
    updated_by: UserInfo


class FilterValues(BaseModel):
    applied_to_services_ids: list[str]
    creators: list[UserInfo]
    tags: list[str]


class GetDynamicBehaviorSetsResponse(BaseModel):
    dynamic_behavior_sets: list[DynamicBehaviorSetInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: FilterValues | None


class SearchDynamicBehaviorSetsResponse(BaseModel):
    dynamic_behavior_sets: list[DynamicBehaviorSetInstance]


class DynamicBehaviorSetVersion(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    org_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    dynamic_behavior_set_id: str
    version: int
    conversation_triggers: list[str]
    actions: list[dict[str, Any]]
    creator: UserInfo


class GetDynamicBehaviorSetVersionsResponse(BaseModel):
    dynamic_behavior_set_versions: list[DynamicBehaviorSetVersion]
    has_more: bool
    continuation_token: int | None


class DynamicBehaviorInvocation(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    org_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    conversation_id: str
    service_id: str
    user_id: str
    initial_message_id: str
    agent_message_id: str | None
    agent_inner_thoughts_ids: list[str]
    dynamic_behavior_set_version_info: tuple[str, int]
    invoked_at: AwareDatetime
    external_event_message_ids: list[str]


class GetDynamicBehaviorInvocationsResponse(BaseModel):
    dynamic_behavior_invocations: list[DynamicBehaviorInvocation]
    has_more: bool
    continuation_token: int | None
