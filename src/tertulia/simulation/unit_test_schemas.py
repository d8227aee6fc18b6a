"""Wire models of the unit test, unit test set and unit test set run endpoints, named after the spec's schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.schemas import NonEmptyStr, Tag, UserInfo, WireModel
from tertulia.simulation.schemas import NotSet

ObjectId = Annotated[str, StringConstraints(pattern=OBJECT_ID_PATTERN)]
Verb = Literal["==", "!=", "<=", "<", ">=", ">"]
MaxInteractions = Annotated[int, Field(gt=0, le=100)]
FreeTags = dict[str, str | None]


class NumericalMetricSuccessCriterion(WireModel):
    type: Literal["numerical"]
    verb: Verb
    threshold: float


class BooleanMetricSuccessCriterion(WireModel):
    type: Literal["boolean"]
    expected_value: bool


class CategoricalMetricSuccessCriterion(WireModel):
    type: Literal["categorical"]
    expected_values: Annotated[list[NonEmptyStr], Field(min_length=1)]


Criterion = Annotated[
    NumericalMetricSuccessCriterion | BooleanMetricSuccessCriterion | CategoricalMetricSuccessCriterion,
    Field(discriminator="type"),
]


class SuccessCriterion(WireModel):
    name: NonEmptyStr
    metric_id: ObjectId
    criterion: Criterion


class CreateSimulationUnitTestRequest(WireModel):
    name: NonEmptyStr
    description: NonEmptyStr
    service_id: ObjectId
    service_version_set_name: str
    persona_id: ObjectId
    scenario_id: ObjectId
    max_interactions: MaxInteractions
    success_criterions: Annotated[list[SuccessCriterion], Field(min_length=1)]
    tags: FreeTags


class CreateSimulationUnitTestResponse(BaseModel):
    simulation_unit_test_id: str


class UpdateSimulationUnitTestRequest(WireModel):
    """``run_count`` is in the spec's request but a unit test has no run count (sets give one per test): accepted
    and ignored."""

    description: NonEmptyStr | None = None
    service_id: ObjectId | None = None
    service_version_set_name: str | None = None
    persona_id: ObjectId | None = None
    scenario_id: ObjectId | None = None
    max_interactions: MaxInteractions | None = None
    success_criterions: Annotated[list[SuccessCriterion], Field(min_length=1)] | None = None
    run_count: Annotated[int, Field(gt=0)] | None = None
    tags: FreeTags | None = None


class SimulationUnitTestInstance(BaseModel):
    id: str
    org_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    name: str
    description: str
    service_id: str
    service_version_set_name: str
    persona_id: str
    scenario_id: str
    max_interactions: int
    success_criterions: list[dict[str, Any]]
    is_deleted: bool
    tags: list[Tag]
    creator: UserInfo
    updated_by: UserInfo


class SimulationUnitTest(SimulationUnitTestInstance):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")


class UnitTestFilterValues(BaseModel):
    creators: list[UserInfo]
    tags: list[str]
    service_ids: list[str]
    persona_ids: list[str]
    scenario_ids: list[str]
    metric_ids: list[str]


class GetSimulationUnitTestsResponse(BaseModel):
    simulation_unit_tests: list[SimulationUnitTestInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: UnitTestFilterValues | None


class SearchSimulationUnitTestsResponse(BaseModel):
    simulation_unit_tests: list[SimulationUnitTest]


# -- unit test sets ---------------------------------------------------------------------------------------------------


class UnitTestRunDescriptor(WireModel):
    unit_test_id: ObjectId
    run_count: Annotated[int, Field(gt=0)]


class CreateSimulationUnitTestSetRequest(WireModel):
    name: NonEmptyStr
    description: NonEmptyStr | None
    unit_test_runs: Annotated[list[UnitTestRunDescriptor], Field(min_length=1)]
    tags: FreeTags


class CreateSimulationUnitTestSetResponse(BaseModel):
    simulation_unit_test_set_id: str


class UpdateSimulationUnitTestSetRequest(WireModel):
    name: NonEmptyStr | None = None
    description: NonEmptyStr | NotSet | None = Field(default_factory=NotSet)
    unit_test_runs: Annotated[list[UnitTestRunDescriptor], Field(min_length=1)] | None = None
    tags: FreeTags | None = None


class UnitTestRunDescriptorOut(BaseModel):
    unit_test_id: str
    run_count: int


class SimulationUnitTestSetInstance(BaseModel):
    id: str
    org_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    name: str
    description: str | None
    unit_test_runs: list[UnitTestRunDescriptorOut]
    last_triggered_run_id: str | None
    is_deleted: bool
    tags: list[Tag]
    creator: UserInfo
    updated_by: UserInfo


class SimulationUnitTestSet(SimulationUnitTestSetInstance):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")


class UnitTestSetFilterValues(BaseModel):
    creators: list[UserInfo]
    unit_test_ids: list[str]
    tags: list[str]


class GetSimulationUnitTestSetsResponse(BaseModel):
    simulation_unit_test_sets: list[SimulationUnitTestSetInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: UnitTestSetFilterValues | None


class SearchSimulationUnitTestSetsResponse(BaseModel):
    simulation_unit_test_sets: list[SimulationUnitTestSet]


# -- runs -------------------------------------------------------------------------------------------------------------


class CreateSimulationUnitTestSetRunRequest(WireModel):
    simulation_unit_test_set_id: ObjectId


class CreateSimulationUnitTestSetRunResponse(BaseModel):
    simulation_unit_test_set_run_id: str


class MetricToEvaluate(BaseModel):
    metric_id: str
    success_criterion_name: str
    success_criterion: dict[str, Any]


class UnitTestRunSpec(BaseModel):
    unit_test_id: str
    run_count: int
    service_hierarchical_state_machine_version_info: tuple[str, int]
    agent_version_info: tuple[str, int]
    scenario_version_info: tuple[str, int] | None
    persona_version_info: tuple[str, int] | None
    llm_model_preferences: dict[str, Any]
    max_interactions: int
    metrics_to_evaluate: list[MetricToEvaluate]


class MetricEvaluationResult(BaseModel):
    metric_id: str
    metric_version: int
    results: list[tuple[str, bool]]


class UnitTestRunResult(BaseModel):
    unit_test_id: str
    metric_evaluation_results: list[MetricEvaluationResult]
    run_errors: list[str | None]


class SimulationUnitTestSetRunInstance(BaseModel):
    org_id: str
    id: str
    is_completed: bool
    simulation_unit_test_set_id: str
    failed_metrics: bool
    errored: bool
    artifacts_generated: bool
    unit_test_run_specs: list[UnitTestRunSpec]
    unit_test_run_results: list[UnitTestRunResult | None]
    created_at: AwareDatetime
    creator: UserInfo


class RunFilterValues(BaseModel):
    creators: list[UserInfo]
    simulation_unit_test_set_ids: list[str]
    tags: list[str]


class GetSimulationUnitTestSetRunsResponse(BaseModel):
    simulation_unit_test_set_runs: list[SimulationUnitTestSetRunInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: RunFilterValues | None


class GetSimulationUnitTestSetRunArtifactsResponse(BaseModel):
    presigned_url: str
    url_expires_at: AwareDatetime
