"""Metric use cases: create / list / update / delete / search, versions, evaluation results."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from tertulia.core.paging import apply_sort, fetch_page, page_list, parse_sort_by, parse_tag_filters, tags_match
from tertulia.core.schemas import tags_to_list
from tertulia.core.versions import parse_version_selector
from tertulia.metric import schemas as s
from tertulia.metric.models import Metric, MetricEvaluationResult, MetricVersion
from tertulia.metric.usage import ensure_not_used
from tertulia.service.models import Service
from tertulia.webhook.events import resource_updated


def metric_instance(m: Metric) -> s.MetricInstance:
    return s.MetricInstance(
        id=m.id, org_id=m.org_id, name=m.name, applied_to_services=list(m.applied_to_services or []),
        additional_notes=m.additional_notes, tags=tags_to_list(m.tags), creator=m.creator, updated_by=m.updated_by,
        metric_value_type=m.metric_value_type, is_deleted=m.is_deleted, created_at=m.created_at, updated_at=m.updated_at,
    )


async def require_metric(session: AsyncSession, org_id: str, metric_id: str, *, allow_deleted: bool = False) -> Metric:
    metric = await session.scalar(select(Metric).where(Metric.org_id == org_id, Metric.id == metric_id))
    if metric is None or (metric.is_deleted and not allow_deleted):
        raise NotFound(f"Metric {metric_id} not found.")
    return metric


async def _check_services(session: AsyncSession, org_id: str, service_ids: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(service_ids))
    if wanted:
        found = set((await session.scalars(
            select(Service.id).where(Service.org_id == org_id, Service.id.in_(wanted))
        )).all())
        missing = [sid for sid in wanted if sid not in found]
        if missing:
            raise NotFound(f"Service {missing[0]} not found.")
    return wanted


async def create_metric(session: AsyncSession, who: Principal, body: s.CreateMetricRequest) -> s.CreateMetricResponse:
    existing = await session.scalar(
        select(Metric.id).where(Metric.org_id == who.org_id, Metric.name == body.name, Metric.is_deleted.is_(False))
    )
    if existing:
        raise Conflict(f"A metric named {body.name!r} already exists.")
    services = await _check_services(session, who.org_id, body.applied_to_services)
    initial = body.initial_version_metric_value
    now = utcnow()
    metric = Metric(
        org_id=who.org_id, name=body.name, applied_to_services=services, additional_notes=body.additional_notes,
        tags=dict(body.tags), metric_value_type=initial.metric_value.type, latest_version=1, creator=who.user_info,
        updated_by=who.user_info, created_at=now, updated_at=now,
    )
    session.add(metric)
    await session.flush()
    session.add(MetricVersion(
        org_id=who.org_id, metric_id=metric.id, version=1, description=initial.description,
        metric_value=initial.metric_value.model_dump(mode="json"), creator=who.user_info, created_at=now,
    ))
    await resource_updated(session, who.org_id, "metric", metric.id, 1, "created")
    await session.flush()
    return s.CreateMetricResponse(id=metric.id)


async def list_metrics(
    session: AsyncSession, who: Principal, *, ids: list[str], services: list[str], types: list[str], is_deleted: bool,
    creators: list[str], tags: list[str], sort_by: list[str], limit: int, offset: int,
) -> s.GetMetricsResponse:
    sort = parse_sort_by(sort_by, ["updated_at"])
    tag_filters = parse_tag_filters(tags)
    query = select(Metric).where(Metric.org_id == who.org_id, Metric.is_deleted.is_(is_deleted))
    base = list((await session.scalars(query)).all())
    if ids:
        query = query.where(Metric.id.in_(ids))
    if types:
        query = query.where(Metric.metric_value_type.in_(types))
    query = apply_sort(query, sort, {"updated_at": Metric.updated_at}, [Metric.created_at, Metric.id])
    rows = [
        m for m in (await session.scalars(query)).all()
        if (not services or set(services) & set(m.applied_to_services or []))
        and (not creators or f"{m.creator.get('org_id')},{m.creator.get('user_id')}" in creators)
        and tags_match(m.tags or {}, tag_filters)
        and who.has("Metric:GetMetric", {"id": m.id})
    ]
    page = page_list(rows, limit, offset)
    filter_values = None
    if offset == 0:
        creators_seen: dict[tuple, dict] = {}
        for m in base:
            creators_seen.setdefault((m.creator.get("org_id"), m.creator.get("user_id")), m.creator)
        filter_values = s.MetricFilterValues(
            applied_to_services_ids=sorted({sid for m in base for sid in m.applied_to_services or []}),
            creators=list(creators_seen.values()),
            tags=sorted({f"{k}:{v if v is not None else ''}" for m in base for k, v in (m.tags or {}).items()}),
            types=sorted({m.metric_value_type for m in base}),
        )
    return s.GetMetricsResponse(
        metrics=[metric_instance(m) for m in page.items], has_more=page.has_more,
        continuation_token=page.continuation_token, filter_values=filter_values,
    )


async def update_metric(session: AsyncSession, who: Principal, metric_id: str, body: s.UpdateMetricRequest) -> dict:
    metric = await require_metric(session, who.org_id, metric_id)
    given = body.model_fields_set
    if "applied_to_services" in given and body.applied_to_services is not None:
        metric.applied_to_services = await _check_services(session, who.org_id, body.applied_to_services)
    if "additional_notes" in given and not isinstance(body.additional_notes, dict):
        metric.additional_notes = body.additional_notes
    if "tags" in given and body.tags is not None:
        metric.tags = dict(body.tags)
    metric.updated_by = who.user_info
    metric.updated_at = utcnow()
    await resource_updated(session, who.org_id, "metric", metric_id, None, "updated")
    await session.flush()
    return {}


async def delete_metric(session: AsyncSession, who: Principal, metric_id: str) -> dict:
    metric = await require_metric(session, who.org_id, metric_id)
    await ensure_not_used(session, who.org_id, metric_id)  # e.g. a simulation unit test's success criterion
    metric.is_deleted = True
    metric.updated_by = who.user_info
    metric.updated_at = utcnow()
    await resource_updated(session, who.org_id, "metric", metric_id, None, "deleted")
    await session.flush()
    return {}


def _relevance(query: str, name: str) -> float:
    q, n = query.lower().strip(), name.lower()
    words = set(re.findall(r"\w+", q))
    name_words = set(re.findall(r"\w+", n))
    score = len(words & name_words) / max(1, len(words))
    score += sum(0.5 for w in words if any(nw.startswith(w) for nw in name_words) and w not in name_words) / max(1, len(words))
    if q and q in n:
        score += 1.0
    return score


async def search_metrics(
    session: AsyncSession, who: Principal, *, query: str, services: list[str], types: list[str],
    creators: list[str], tags: list[str],
) -> s.SearchMetricsResponse:
    tag_filters = parse_tag_filters(tags)
    rows = (await session.scalars(
        select(Metric).where(Metric.org_id == who.org_id, Metric.is_deleted.is_(False)).order_by(Metric.created_at)
    )).all()
    scored = []
    for m in rows:
        if types and m.metric_value_type not in types:
            continue
        if services and not set(services) & set(m.applied_to_services or []):
            continue
        if creators and f"{m.creator.get('org_id')},{m.creator.get('user_id')}" not in creators:
            continue
        if not tags_match(m.tags or {}, tag_filters) or not who.has("Metric:GetMetric", {"id": m.id}):
            continue
        score = _relevance(query, m.name)
        if score > 0:
            scored.append((score, m))
    scored.sort(key=lambda item: item[0], reverse=True)
    return s.SearchMetricsResponse(metrics=[
        s.SearchMetric(**metric_instance(m).model_dump(exclude={"id"}), id=m.id) for _, m in scored[:50]
    ])


async def create_version(
    session: AsyncSession, who: Principal, metric_id: str, body: s.CreateMetricVersionRequest, expected: int | None
) -> s.CreateMetricVersionResponse:
    metric = await require_metric(session, who.org_id, metric_id)
    if body.metric_value.type != metric.metric_value_type:
        raise BadRequest(
            f"The metric value type cannot be changed between versions ({metric.metric_value_type} -> "
            f"{body.metric_value.type})."
        )
    next_version = metric.latest_version + 1
    if expected is not None and expected != next_version:
        raise Conflict(f"Version {expected} is not the next version of this metric (expected {next_version}).")
    session.add(MetricVersion(
        org_id=who.org_id, metric_id=metric.id, version=next_version, description=body.description,
        metric_value=body.metric_value.model_dump(mode="json"), creator=who.user_info,
    ))
    metric.latest_version = next_version
    metric.updated_at = utcnow()
    metric.updated_by = who.user_info
    try:
        await resource_updated(session, who.org_id, "metric", metric_id, next_version, "created")
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another version of this metric was created at the same time; retry.") from exc
    return s.CreateMetricVersionResponse(version=next_version)


async def list_versions(
    session: AsyncSession, who: Principal, metric_id: str, selector: str | None, sort_by: list[str], limit: int,
    offset: int,
) -> s.GetMetricVersionsResponse:
    metric = await require_metric(session, who.org_id, metric_id, allow_deleted=True)
    bounds = parse_version_selector(selector, metric.latest_version)
    sort = parse_sort_by(sort_by, ["version"])
    query = select(MetricVersion).where(MetricVersion.org_id == who.org_id, MetricVersion.metric_id == metric_id)
    if bounds is not None:
        query = query.where(MetricVersion.version >= bounds[0], MetricVersion.version <= bounds[1])
    query = apply_sort(query, sort, {"version": MetricVersion.version}, [MetricVersion.version.desc()])
    page = await fetch_page(session, query, limit, offset)
    return s.GetMetricVersionsResponse(
        metric_versions=[
            s.MetricVersionInstance(metric_id=v.metric_id, version=v.version, description=v.description,
                                    metric_value=v.metric_value, creator=v.creator, created_at=v.created_at)
            for v in page.items
        ],
        has_more=page.has_more, continuation_token=page.continuation_token,
    )


def result_instance(r: MetricEvaluationResult) -> s.MetricEvaluationResultInstance:
    return s.MetricEvaluationResultInstance(
        id=r.id, org_id=r.org_id, created_at=r.created_at, updated_at=r.updated_at, metric_id=r.metric_id,
        metric_version=r.metric_version, result=(r.value or {}).get("result"), justification=r.justification,
        source=r.source,
    )


async def list_results(
    session: AsyncSession, who: Principal, *, after: datetime | None, before: datetime | None, metric_ids: list[str],
    id_versions: list[str], source_types: list[str], conversation_ids: list[str], run_ids: list[str],
    sort_by: list[str], limit: int, offset: int,
) -> s.GetMetricEvaluationResultsResponse:
    sort = parse_sort_by(sort_by, ["created_at"])
    base = select(MetricEvaluationResult).where(MetricEvaluationResult.org_id == who.org_id)
    query = base
    if after is not None:
        query = query.where(MetricEvaluationResult.created_at > after)
    if before is not None:
        query = query.where(MetricEvaluationResult.created_at < before)
    if metric_ids:
        query = query.where(MetricEvaluationResult.metric_id.in_(metric_ids))
    if source_types:
        query = query.where(MetricEvaluationResult.source_type.in_(source_types))
    if conversation_ids:
        query = query.where(MetricEvaluationResult.conversation_id.in_(conversation_ids))
    pairs: list[tuple[str, int | None]] = []
    for raw in id_versions:
        metric_id, _, version = raw.partition("-")
        if not re.fullmatch(r"[a-f0-9]{24}", metric_id) or (version and not version.isdigit()):
            raise Unprocessable(f"metric_id_and_version {raw!r} must be <metric_id>-<version>.")
        pairs.append((metric_id, int(version) if version else None))
    query = apply_sort(query, sort, {"created_at": MetricEvaluationResult.created_at},
                       [MetricEvaluationResult.created_at.desc(), MetricEvaluationResult.id])
    rows = [
        r for r in (await session.scalars(query)).all()
        if (not pairs or any(r.metric_id == m and (v is None or r.metric_version == v) for m, v in pairs))
        and (not run_ids or r.source.get("simulation_unit_test_set_run_id") in run_ids)
    ]
    page = page_list(rows, limit, offset)
    filter_values = None
    if offset == 0:
        all_ids = (await session.scalars(
            select(MetricEvaluationResult.metric_id).where(MetricEvaluationResult.org_id == who.org_id).distinct()
        )).all()
        filter_values = s.ResultFilterValues(metric_ids=sorted(all_ids))
    return s.GetMetricEvaluationResultsResponse(
        metric_evaluation_results=[result_instance(r) for r in page.items], has_more=page.has_more,
        continuation_token=page.continuation_token, filter_values=filter_values,
    )
