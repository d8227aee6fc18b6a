"""HTTP routes of the metric domain. Literal paths (``/metric/search/``, ``/metric/evaluate``,
``/metric/metric_evaluation_result``) are registered before ``/metric/{metric_id}/``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query

from tertulia.auth.deps import RuntimeDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.metric import schemas as s
from tertulia.metric import service
from tertulia.metric.evaluation import evaluate_now

router = domain_router("Metric")

MetricId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the metric.")]
IdList = list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]]
TypeList = list[s.MetricValueType]


@router.post("/metric/", operation_id="create-metric", status_code=201, response_model=s.CreateMetricResponse,
             responses={409: {"description": "A metric with this name already exists"}})
async def create_metric(
    body: s.CreateMetricRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Metric:CreateMetric"))],
) -> s.CreateMetricResponse:
    return await service.create_metric(session, who, body)


@router.get("/metric/", operation_id="get-metrics", response_model=s.GetMetricsResponse)
async def get_metrics(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Metric:GetMetric"))],
    id: Annotated[IdList, Query()] = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=50)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    applied_to_service: Annotated[IdList, Query()] = [],  # noqa: B006
    type: Annotated[TypeList, Query()] = [],  # noqa: A002,B006
    is_deleted: bool = False,
    creator: Annotated[list[str], Query()] = [],  # noqa: B006
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> s.GetMetricsResponse:
    return await service.list_metrics(
        session, who, ids=id, services=applied_to_service, types=type, is_deleted=is_deleted, creators=creator,
        tags=tag, sort_by=sort_by, limit=limit, offset=continuation_token,
    )


@router.get("/metric/search/", operation_id="search-metrics", response_model=s.SearchMetricsResponse)
async def search_metrics(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Metric:GetMetric"))],
    query: Annotated[str, Query(min_length=1)],
    applied_to_service: Annotated[IdList, Query()] = [],  # noqa: B006
    type: Annotated[TypeList, Query()] = [],  # noqa: A002,B006
    creator: Annotated[list[str], Query()] = [],  # noqa: B006
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
) -> s.SearchMetricsResponse:
    return await service.search_metrics(
        session, who, query=query, services=applied_to_service, types=type, creators=creator, tags=tag
    )


@router.post("/metric/evaluate", operation_id="evaluate-metrics", response_model=s.EvaluateMetricsResponse,
             responses={400: {"description": "The conversation has no interactions."}})
async def evaluate_metrics(
    body: s.EvaluateMetricsRequest, session: SessionDep, runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Metric:GetMetric", "Metric:EvaluateMetric"))],
) -> s.EvaluateMetricsResponse:
    return await evaluate_now(session, runtime.llm, who, body)


@router.get("/metric/metric_evaluation_result", operation_id="get-metric-evaluation-results",
            response_model=s.GetMetricEvaluationResultsResponse)
async def get_metric_evaluation_results(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Metric:GetMetricEvaluationResult"))],
    limit: Annotated[int, Query(ge=0, le=500)] = 500,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    timestamp_after: datetime | None = None,
    timestamp_before: datetime | None = None,
    metric_id: Annotated[IdList, Query()] = [],  # noqa: B006
    metric_id_and_version: Annotated[list[str], Query()] = [],  # noqa: B006
    source_type: Annotated[list[str], Query()] = [],  # noqa: B006
    conversation_id: Annotated[IdList, Query()] = [],  # noqa: B006
    simulation_unit_test_set_run_id: Annotated[IdList, Query()] = [],  # noqa: B006
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> s.GetMetricEvaluationResultsResponse:
    return await service.list_results(
        session, who, after=timestamp_after, before=timestamp_before, metric_ids=metric_id,
        id_versions=metric_id_and_version, source_types=source_type, conversation_ids=conversation_id,
        run_ids=simulation_unit_test_set_run_id, sort_by=sort_by, limit=limit, offset=continuation_token,
    )


@router.post("/metric/{metric_id}/", operation_id="update-metric")
async def update_metric(
    metric_id: MetricId, body: s.UpdateMetricRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Metric:ModifyMetric"))],
) -> dict[str, Any]:
    return await service.update_metric(session, who, metric_id, body)


@router.delete("/metric/{metric_id}/", operation_id="delete-metric",
               responses={400: {"description": "Metric is used in a simulation unit test."}})
async def delete_metric(
    metric_id: MetricId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Metric:DeleteMetric"))],
) -> dict[str, Any]:
    return await service.delete_metric(session, who, metric_id)


@router.post("/metric/{metric_id}/version/", operation_id="create-metric-version", status_code=201,
             response_model=s.CreateMetricVersionResponse,
             responses={400: {"description": "The metric value type cannot be changed between versions."},
                        409: {"description": "The next version of the metric doesn't match the specified version."}})
async def create_metric_version(
    metric_id: MetricId, body: s.CreateMetricVersionRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Metric:ModifyMetric"))],
    version: Annotated[int | None, Query()] = None,
) -> s.CreateMetricVersionResponse:
    return await service.create_version(session, who, metric_id, body, version)


@router.get("/metric/{metric_id}/version", operation_id="get-metric-versions",
            response_model=s.GetMetricVersionsResponse)
async def get_metric_versions(
    metric_id: MetricId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Metric:GetMetric"))],
    version: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> s.GetMetricVersionsResponse:
    return await service.list_versions(session, who, metric_id, version, sort_by, limit, continuation_token)
