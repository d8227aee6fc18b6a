"""Wire models of the persona and scenario endpoints, named after the spec's schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from tertulia.core.languages import LanguageCode, TimeZoneName
from tertulia.core.schemas import NonEmptyStr, TagDict, UserInfo, WireModel

VariableName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[a-z_][a-z0-9_]+$")]
Variables = Annotated[dict[VariableName, str], Field(max_length=20)]
InitialMessageType = Literal["user-message", "external-event", "skip"]


class NotSet(WireModel):
    """``_NotSet``: the empty object ``{}`` (the default) means "not specified"."""


# -- personas ---------------------------------------------------------------------------------------------------------


class PersonaVersionBody(WireModel):
    background: NonEmptyStr
    preferred_language: LanguageCode | NotSet | None = Field(default_factory=NotSet)
    timezone: TimeZoneName | NotSet | None = Field(default_factory=NotSet)
    user_models: list[NonEmptyStr]
    nonsensitive_user_variables: Variables
    sensitive_user_variables: Variables


class CreateSimulationPersonaRequest(WireModel):
    name: NonEmptyStr
    role: NonEmptyStr
    tags: TagDict
    initial_version: PersonaVersionBody


class CreateSimulationPersonaResponse(BaseModel):
    simulation_persona_id: str


class CreateVersionResponse(BaseModel):
    version: int


class UpdateTagsRequest(WireModel):
    tags: TagDict | None = None


class SimulationPersonaInstance(BaseModel):
    id: str
    name: str
    role: str
    tags: dict[str, str | None]
    is_deleted: bool
    created_at: AwareDatetime
    creator: UserInfo
    updated_at: AwareDatetime
    updated_by: UserInfo


class PersonaFilterValues(BaseModel):
    creators: list[UserInfo]
    tags: list[str]
    roles: list[str]


class GetSimulationPersonasResponse(BaseModel):
    simulation_personas: list[SimulationPersonaInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: PersonaFilterValues | None


class SearchSimulationPersonasResponse(BaseModel):
    simulation_personas: list[SimulationPersonaInstance]


class SimulationPersonaVersion(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    org_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    simulation_persona_id: str
    version: int
    background: str
    preferred_language: str | None
    timezone: str | None
    user_models: list[str]
    nonsensitive_user_variables: dict[str, str]
    sensitive_user_variables: dict[str, str]
    creator: UserInfo


class GetSimulationPersonaVersionsResponse(BaseModel):
    simulation_persona_versions: list[SimulationPersonaVersion]
    has_more: bool
    continuation_token: int | None


# -- scenarios --------------------------------------------------------------------------------------------------------


class ScenarioVersionBody(WireModel):
    objective: NonEmptyStr
    instructions: NonEmptyStr
    initial_message_type: InitialMessageType
    conversation_starts_at: AwareDatetime | None


class CreateSimulationScenarioRequest(WireModel):
    name: NonEmptyStr
    tags: TagDict
    initial_version: ScenarioVersionBody


class CreateSimulationScenarioResponse(BaseModel):
    simulation_scenario_id: str


class SimulationScenarioInstance(BaseModel):
    id: str
    name: str
    tags: dict[str, str | None]
    is_deleted: bool
    created_at: AwareDatetime
    creator: UserInfo
    updated_at: AwareDatetime
    updated_by: UserInfo


class ScenarioFilterValues(BaseModel):
    creators: list[UserInfo]
    tags: list[str]


class GetSimulationScenariosResponse(BaseModel):
    simulation_scenarios: list[SimulationScenarioInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: ScenarioFilterValues | None


class SearchSimulationScenariosResponse(BaseModel):
    simulation_scenarios: list[SimulationScenarioInstance]


class SimulationScenarioVersion(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    org_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    simulation_scenario_id: str
    version: int
    objective: str
    instructions: str
    initial_message_type: InitialMessageType
    conversation_starts_at: datetime | None
    creator: UserInfo


class GetSimulationScenarioVersionsResponse(BaseModel):
    simulation_scenario_versions: list[SimulationScenarioVersion]
    has_more: bool
    continuation_token: int | None


def given(value: Any) -> Any:
    """A ``NotSet`` field's value: ``None`` when not specified."""
    return None if isinstance(value, NotSet) else value
