"""Wire models of the context graph (service hierarchical state machine) endpoints, named after the spec's schemas.

Request models follow the spec's ``*-Input`` schemas. Where the spec marks a list, flag or filler delay as required,
tertulia accepts it omitted and fills the documented default (empty list, ``false``, 5 seconds): stored versions,
and so every answer, always carry every field of the spec's ``*-Output`` schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

from tertulia.core.ids import ObjectIdStr
from tertulia.core.schemas import NonEmptyStr, UserInfo, WireModel

STATE_NAME_PATTERN = r"^[A-Za-z0-9_]+$"
StateOrRefName = Annotated[str, StringConstraints(pattern=STATE_NAME_PATTERN)]
ExternalStateName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")]
NextState = StateOrRefName | tuple[ExternalStateName, StateOrRefName]
AudioFillers = Annotated[list[NonEmptyStr], Field(max_length=5)]
FillerDelay = Annotated[float, Field(gt=0, le=10)]
DEFAULT_FILLER_DELAY = 5.0


def _version_constraint(value: str) -> str:
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # pragma: no cover - packaging ships with every pip install
        return value
    from packaging.specifiers import InvalidSpecifier

    try:
        SpecifierSet(value)
    except InvalidSpecifier as exc:
        raise ValueError(f"{value!r} is not a PEP 440 version specifier") from exc
    return value


class ToolCallSpec(WireModel):
    tool_id: ObjectIdStr
    version_constraint: Annotated[str, AfterValidator(_version_constraint)]
    additional_instruction: NonEmptyStr
    audio_fillers: AudioFillers = []
    audio_filler_triggered_after: FillerDelay = DEFAULT_FILLER_DELAY
    result_persistence: Literal["ephemeral", "persisted-preferred", "persisted"] = "persisted-preferred"


class ExitCondition(WireModel):
    description: NonEmptyStr
    next_state: NextState


class ActionState(WireModel):
    type: Literal["action"]
    name: StateOrRefName
    objective: NonEmptyStr
    actions: Annotated[list[NonEmptyStr], Field(min_length=1)]
    intra_state_navigation_guidelines: list[NonEmptyStr] = []
    action_guidelines: list[NonEmptyStr] = []
    boundary_constraints: list[NonEmptyStr] = []
    exit_conditions: list[ExitCondition] = []
    action_tool_call_specs: list[ToolCallSpec] = []
    exit_condition_tool_call_specs: list[ToolCallSpec] = []
    skip_active_memory_retrieval: bool = False


class DecisionState(WireModel):
    type: Literal["decision"]
    name: StateOrRefName
    exit_conditions: list[ExitCondition]
    decision_guidelines: list[NonEmptyStr] = []
    objective: NonEmptyStr
    tool_call_specs: list[ToolCallSpec] = []
    audio_fillers: AudioFillers = []
    audio_filler_triggered_after: FillerDelay = DEFAULT_FILLER_DELAY


class RecallState(WireModel):
    type: Literal["recall"]
    name: StateOrRefName
    queries: Annotated[list[str], Field(min_length=1)] | None = None
    requested_information: NonEmptyStr | None = None
    next_state: NextState


class AnnotationState(WireModel):
    type: Literal["annotation"]
    name: StateOrRefName
    inner_thought: NonEmptyStr
    next_state: NextState


class ReflectionState(WireModel):
    type: Literal["reflection"]
    name: StateOrRefName
    problem: NonEmptyStr
    word_limit: Annotated[int, Field(gt=0)]
    next_state: NextState
    tool_call_specs: list[ToolCallSpec] = []
    audio_fillers: AudioFillers = []
    audio_filler_triggered_after: FillerDelay = DEFAULT_FILLER_DELAY


class ToolCallState(WireModel):
    type: Literal["tool-call"]
    name: StateOrRefName
    next_state: NextState
    designated_tool: ToolCallSpec
    designated_tool_call_params_generation_audio_fillers: AudioFillers = []
    designated_tool_call_params_generation_audio_filler_triggered_after: FillerDelay = DEFAULT_FILLER_DELAY
    designated_tool_call_objective: NonEmptyStr
    designated_tool_call_context: NonEmptyStr
    designated_tool_call_guidances: list[NonEmptyStr] = []
    designated_tool_call_validations: list[NonEmptyStr] = []
    tool_call_specs: list[ToolCallSpec] = []


State = Annotated[
    ActionState | DecisionState | RecallState | AnnotationState | ReflectionState | ToolCallState,
    Field(discriminator="type"),
]


class CreateServiceHierarchicalStateMachineRequest(WireModel):
    state_machine_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class CreateServiceHierarchicalStateMachineResponse(BaseModel):
    id: str


class CreateServiceHierarchicalStateMachineVersionRequest(WireModel):
    description: NonEmptyStr
    states: list[State]
    new_user_initial_state: StateOrRefName
    returning_user_initial_state: StateOrRefName
    terminal_state: StateOrRefName
    references: dict[StateOrRefName, tuple[ObjectIdStr, Annotated[int, Field(gt=0)]]]
    global_intra_state_navigation_guidelines: list[NonEmptyStr]
    global_action_guidelines: list[NonEmptyStr]
    global_boundary_constraints: list[NonEmptyStr]


class CreateServiceHierarchicalStateMachineVersionResponse(BaseModel):
    version: int
    created_at: AwareDatetime


class StateMachineInstance(BaseModel):
    id: str
    name: str
    deprecated: bool
    latest_version: int | None


class GetServiceHierarchicalStateMachinesResponse(BaseModel):
    service_hierarchical_state_machines: list[StateMachineInstance]
    has_more: bool
    continuation_token: int | None


class ServiceHierarchicalStateMachineInstance(BaseModel):
    org_id: str
    service_hierarchical_state_machine_id: str
    version: int
    created_at: AwareDatetime
    creator: UserInfo
    description: str
    states: list[dict[str, Any]]  # stored normalised: every field of the state's *-Output schema
    new_user_initial_state: str
    returning_user_initial_state: str
    terminal_state: str
    references: dict[str, tuple[str, int]]
    global_intra_state_navigation_guidelines: list[str]
    global_action_guidelines: list[str]
    global_boundary_constraints: list[str]


class GetServiceHierarchicalStateMachineVersionsResponse(BaseModel):
    state_machine_versions: list[ServiceHierarchicalStateMachineInstance]
    has_more: bool
    continuation_token: int | None
