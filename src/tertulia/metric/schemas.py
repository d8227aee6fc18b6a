"""Wire models of the metric domain, named as the spec names them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.schemas import NonEmptyStr, Tag, TagDict, UserInfo, WireModel

ObjectId = Annotated[str, StringConstraints(pattern=OBJECT_ID_PATTERN)]
MetricValueType = Literal["boolean", "numerical", "categorical"]


class NumericalMetricValue(WireModel):
    type: Literal["numerical"]
    lower_bound: float
    upper_bound: float

    @model_validator(mode="after")
    def _ordered(self) -> NumericalMetricValue:
        if self.lower_bound > self.upper_bound:
            raise ValueError("lower_bound must not exceed upper_bound")
        return self


class CategoricalMetricValue(WireModel):
    type: Literal["categorical"]
    categories: Annotated[list[NonEmptyStr], Field(min_length=1, max_length=50)]


class BooleanMetricValue(WireModel):
    type: Literal["boolean"]


MetricValue = Annotated[
    NumericalMetricValue | CategoricalMetricValue | BooleanMetricValue, Field(discriminator="type")
]


class InitialMetricVersion(WireModel):
    description: str
    metric_value: MetricValue


class CreateMetricRequest(WireModel):
    name: NonEmptyStr
    applied_to_services: list[ObjectId]
    additional_notes: NonEmptyStr | None
    tags: TagDict
    initial_version_metric_value: InitialMetricVersion


class CreateMetricResponse(BaseModel):
    id: str


class UpdateMetricRequest(WireModel):
    applied_to_services: list[ObjectId] | None = None
    additional_notes: NonEmptyStr | dict[str, Any] | None = None  # a dict is the spec's "_NotSet" sentinel
    tags: TagDict | None = None


class MetricInstance(BaseModel):
    id: str
    org_id: str
    name: str
    applied_to_services: list[str]
    additional_notes: str | None
    tags: list[Tag]
    creator: UserInfo
    updated_by: UserInfo
    metric_value_type: MetricValueType
    is_deleted: bool
    created_at: datetime
    updated_at: datetime


class MetricFilterValues(BaseModel):
    applied_to_services_ids: list[str]
    creators: list[UserInfo]
    tags: list[str]
    types: list[str]


class GetMetricsResponse(BaseModel):
    metrics: list[MetricInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: MetricFilterValues | None = None


class SearchMetric(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    org_id: str
    created_at: datetime
    updated_at: datetime
    name: str
    applied_to_services: list[str]
    additional_notes: str | None
    tags: list[Tag]
    creator: UserInfo
    updated_by: UserInfo
    metric_value_type: MetricValueType
    is_deleted: bool


class SearchMetricsResponse(BaseModel):
    metrics: list[SearchMetric]


class EvaluateMetricsRequest(WireModel):
    metric_ids: Annotated[list[ObjectId], Field(min_length=1, max_length=10)]
    conversation_id: ObjectId
    evaluate_to_interaction_id: ObjectId | None = None


class MetricEvaluationResult(BaseModel):
    metric_id: str
    value: bool | int | float | str | None
    references: list[str]
    justification: str


class EvaluateMetricsResponse(BaseModel):
    metrics: list[MetricEvaluationResult]


class MetricEvaluationResultInstance(BaseModel):
    id: str
    org_id: str
    created_at: datetime
    updated_at: datetime
    metric_id: str
    metric_version: int
    result: bool | int | float | str | None
    justification: str
    source: dict[str, Any]


class ResultFilterValues(BaseModel):
    metric_ids: list[str]


class GetMetricEvaluationResultsResponse(BaseModel):
    metric_evaluation_results: list[MetricEvaluationResultInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: ResultFilterValues | None = None


class CreateMetricVersionRequest(WireModel):
    description: NonEmptyStr
    metric_value: MetricValue


class CreateMetricVersionResponse(BaseModel):
    version: int


class MetricVersionInstance(BaseModel):
    metric_id: str
    version: int
    description: str
    metric_value: dict[str, Any]
    creator: UserInfo
    created_at: datetime


class GetMetricVersionsResponse(BaseModel):
    metric_versions: list[MetricVersionInstance]
    has_more: bool
    continuation_token: int | None
