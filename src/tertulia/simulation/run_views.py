"""Reading runs: ``get-simulation-unit-test-set-runs`` (with the spec's permission-dependent blanking) and the
artifacts' signed URL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, NotFound
from tertulia.core.paging import page_list, parse_sort_by
from tertulia.simulation import repository as repo
from tertulia.simulation import unit_test_schemas as u
from tertulia.simulation.listing import check_creators, creator_key, distinct_creators, distinct_tags
from tertulia.simulation.models import (
    CANCELLED,
    DONE,
    SimulationRunItem,
    SimulationUnitTestSet,
    SimulationUnitTestSetRun,
)
from tertulia.simulation.settings import SimulationSettings

GET_RUN = "Simulation:GetSimulationUnitTestSetRun"
GET_SET = "Simulation:GetSimulationUnitTestSet"
GET_TEST = "Simulation:GetSimulationUnitTest"
CANCELLED_TEXT = "Cancelled before completion."


def run_error(item: SimulationRunItem) -> str | None:
    if item.status == CANCELLED:
        return CANCELLED_TEXT
    if item.status != DONE:
        return None
    return item.error or item.failure


def unit_test_result(spec: dict[str, Any], items: list[SimulationRunItem], show_metrics: bool) -> u.UnitTestRunResult | None:
    mine = sorted((i for i in items if i.unit_test_id == spec["unit_test_id"]), key=lambda i: i.run_index)
    if not any(i.status in (DONE, CANCELLED) for i in mine):
        return None
    evaluations = []
    if show_metrics:
        for target in spec["metrics_to_evaluate"]:
            results = [
                (r["result_id"], bool(r["passed"]))
                for item in mine for r in item.metric_results or []
                if r["success_criterion_name"] == target["success_criterion_name"]
            ]
            evaluations.append(u.MetricEvaluationResult(
                metric_id=target["metric_id"],
                metric_version=int((spec.get("metric_versions") or {}).get(target["metric_id"], 1)),
                results=results,
            ))
    return u.UnitTestRunResult(unit_test_id=spec["unit_test_id"], metric_evaluation_results=evaluations,
                               run_errors=[run_error(i) for i in mine])


def run_instance(who: Principal, run: SimulationUnitTestSetRun, items: list[SimulationRunItem]) -> u.SimulationUnitTestSetRunInstance:
    specs, results = [], []
    if who.has(GET_SET, {"id": run.unit_test_set_id}):
        for spec in run.unit_test_run_specs or []:
            show = who.has(GET_TEST, {"id": spec["unit_test_id"]})
            wire = dict(spec)
            if not show:
                wire.update(scenario_version_info=None, persona_version_info=None, metrics_to_evaluate=[])
            specs.append(u.UnitTestRunSpec.model_validate(wire))
            results.append(unit_test_result(spec, items, show))
    return u.SimulationUnitTestSetRunInstance(
        org_id=run.org_id, id=run.id, is_completed=run.is_completed, simulation_unit_test_set_id=run.unit_test_set_id,
        failed_metrics=run.failed_metrics, errored=run.errored, artifacts_generated=run.artifacts_generated,
        unit_test_run_specs=specs, unit_test_run_results=results, created_at=run.created_at, creator=run.creator,
    )


def _keep(run: SimulationUnitTestSetRun, *, ids: list[str], creators: set[str], set_ids: list[str],
          is_completed: bool | None, failed_metrics: bool | None, errored: bool | None,
          after: datetime | None, before: datetime | None) -> bool:
    return (
        (not ids or run.id in ids)
        and (not creators or creator_key(run.creator) in creators)
        and (not set_ids or run.unit_test_set_id in set_ids)
        and (is_completed is None or run.is_completed == is_completed)
        and (failed_metrics is None or run.failed_metrics == failed_metrics)
        and (errored is None or run.errored == errored)
        and (after is None or run.created_at > after)
        and (before is None or run.created_at < before)
    )


async def list_runs(
    session: AsyncSession, who: Principal, *, ids: list[str], creators: list[str], sort_by: list[str],
    set_ids: list[str], is_completed: bool | None, failed_metrics: bool | None, errored: bool | None,
    created_after: datetime | None, created_before: datetime | None, limit: int, offset: int,
) -> u.GetSimulationUnitTestSetRunsResponse:
    sort = parse_sort_by(sort_by, ["created_at"])
    wanted = check_creators(creators)
    every = await repo.runs(session, who.org_id)  # newest first
    if sort:
        every = sorted(every, key=lambda r: (r.created_at, r.id), reverse=sort[0].descending)
    rows = [
        r for r in every
        if _keep(r, ids=ids, creators=wanted, set_ids=set_ids, is_completed=is_completed,
                 failed_metrics=failed_metrics, errored=errored, after=created_after, before=created_before)
        and who.has(GET_RUN, {"id": r.id})
    ]
    page = page_list(rows, limit, offset)
    items = await repo.run_items(session, who.org_id, [r.id for r in page.items])
    by_run: dict[str, list[SimulationRunItem]] = {}
    for item in items:
        by_run.setdefault(item.run_id, []).append(item)
    filter_values = None
    if offset == 0:
        set_ids_seen = sorted({r.unit_test_set_id for r in every})
        sets = await repo.all_rows(session, SimulationUnitTestSet, who.org_id, ids=set_ids_seen) if set_ids_seen else []
        filter_values = u.RunFilterValues(creators=distinct_creators(every), simulation_unit_test_set_ids=set_ids_seen,
                                          tags=distinct_tags(sets))
    return u.GetSimulationUnitTestSetRunsResponse(
        simulation_unit_test_set_runs=[run_instance(who, r, by_run.get(r.id, [])) for r in page.items],
        has_more=page.has_more, continuation_token=page.continuation_token, filter_values=filter_values,
    )


async def artifacts(session: AsyncSession, runtime: Any, who: Principal, run_id: str, base_url: str) -> u.GetSimulationUnitTestSetRunArtifactsResponse:
    run = await repo.get(session, SimulationUnitTestSetRun, who.org_id, run_id)
    if run is None:
        raise NotFound(f"Simulation unit test set run {run_id} not found.")
    who.require(GET_RUN, {"id": run.id})
    for spec in run.unit_test_run_specs or []:
        graph_id = spec["service_hierarchical_state_machine_version_info"][0]
        who.require("Organization:GetServiceHierarchicalStateMachine", {"service_hierarchical_state_machine_id": graph_id})
    speech = runtime.speech
    if not run.artifacts_generated or not run.artifacts_key or speech is None:
        raise BadRequest("The artifacts of this run are not available yet (they are generated when the run ends).")
    expires_at = (utcnow() + timedelta(seconds=SimulationSettings().artifact_url_ttl_seconds)).replace(microsecond=0)
    url = speech.signer.url(speech.public_base_url or base_url, run.artifacts_key, expires_at)
    return u.GetSimulationUnitTestSetRunArtifactsResponse(presigned_url=url, url_expires_at=expires_at)
