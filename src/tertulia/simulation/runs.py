"""Unit test set runs: create (snapshot the specs, queue the first simulated conversations), cancel, and the
bookkeeping the job handlers share (queue the next item, settle the run's flags).

Decisions the spec leaves open:
* a run pins, when it is created, the service's agent and context-graph versions (from its version set), the
  persona's and scenario's latest versions and the metrics' latest versions; later edits do not change a run;
* at most ``TERTULIA_SIMULATION_CONCURRENCY`` conversations of one run are queued or running at once: item ``p``
  is queued when item ``p - concurrency`` settles (in the same transaction), so nothing is queued twice or lost;
* cancel marks every item not yet started ``cancelled`` at once; a running conversation notices within
  ``cancel_poll_seconds`` and stops. Finished items are kept. The run is then completed (``is_completed``);
* ``failed_metrics`` turns true as soon as one repetition fails (a criterion not met, or ``max_interactions``
  reached); ``errored`` when one repetition errored (the agent or the LLM failed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import Conflict, NotFound
from tertulia.jobs.port import enqueue
from tertulia.metric.models import Metric
from tertulia.service.resolution import resolve_version_set
from tertulia.simulation import FINALIZE_JOB, RUN_ITEM_JOB
from tertulia.simulation import repository as repo
from tertulia.simulation import unit_test_schemas as u
from tertulia.simulation.models import (
    CANCELLED,
    DONE,
    PENDING,
    RUNNING,
    SimulationPersona,
    SimulationRunItem,
    SimulationScenario,
    SimulationUnitTest,
    SimulationUnitTestSet,
    SimulationUnitTestSetRun,
)
from tertulia.simulation.settings import SimulationSettings


async def _spec(session: AsyncSession, org_id: str, unit_test_id: str, run_count: int) -> dict[str, Any]:
    test = await repo.get(session, SimulationUnitTest, org_id, unit_test_id)
    if test is None or test.is_deleted:
        raise NotFound(f"Simulation unit test {unit_test_id} not found.")
    persona = await repo.get(session, SimulationPersona, org_id, test.persona_id)
    scenario = await repo.get(session, SimulationScenario, org_id, test.scenario_id)
    if persona is None or scenario is None:
        raise NotFound(f"The persona or scenario of unit test {test.name!r} no longer exists.")
    resolved = await resolve_version_set(session, org_id, test.service_id, test.service_version_set_name)
    info = resolved.version_set_info
    metrics = {}
    for criterion in test.success_criterions or []:
        metric = await session.scalar(select(Metric).where(Metric.org_id == org_id, Metric.id == criterion["metric_id"]))
        if metric is None:
            raise NotFound(f"Metric {criterion['metric_id']} not found.")
        metrics[metric.id] = metric.latest_version
    return {
        "unit_test_id": test.id,
        "run_count": run_count,
        "service_hierarchical_state_machine_version_info": info["service_hierarchical_state_machine_version_info"],
        "agent_version_info": info["agent_version_info"],
        "scenario_version_info": [scenario.id, scenario.latest_version],
        "persona_version_info": [persona.id, persona.latest_version],
        "llm_model_preferences": info["llm_model_preferences"],
        "max_interactions": test.max_interactions,
        "metrics_to_evaluate": [
            {"metric_id": c["metric_id"], "success_criterion_name": c["name"], "success_criterion": c["criterion"]}
            for c in test.success_criterions or []
        ],
        # not on the wire: what the job handlers need to reproduce the spec exactly
        "service_id": test.service_id,
        "service_version_set_name": test.service_version_set_name,
        "unit_test_name": test.name,
        "metric_versions": metrics,
    }


async def create_run(
    session: AsyncSession, who: Principal, body: u.CreateSimulationUnitTestSetRunRequest, *, min_runs: int = 1,
    settings: SimulationSettings | None = None,
) -> u.CreateSimulationUnitTestSetRunResponse:
    """``min_runs`` (the CLI's ``--k``) raises every unit test's repetitions to at least that many."""
    settings = settings or SimulationSettings()
    test_set = await repo.get(session, SimulationUnitTestSet, who.org_id, body.simulation_unit_test_set_id)
    if test_set is None or test_set.is_deleted:
        raise NotFound(f"Simulation unit test set {body.simulation_unit_test_set_id} not found.")
    specs = [
        await _spec(session, who.org_id, d["unit_test_id"], max(int(d["run_count"]), min_runs))
        for d in test_set.unit_test_runs or []
    ]
    total = sum(spec["run_count"] for spec in specs)
    run = SimulationUnitTestSetRun(
        org_id=who.org_id, unit_test_set_id=test_set.id, unit_test_run_specs=specs, status="running",
        total_items=total, concurrency=max(1, settings.concurrency), open_key=f"{who.user_id}|{test_set.id}",
        creator=who.user_info, created_at=utcnow(),
    )
    session.add(run)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("You already have an unfinished run of this simulation unit test set.") from exc
    position = 0
    for spec in specs:
        for index in range(spec["run_count"]):
            session.add(SimulationRunItem(org_id=who.org_id, run_id=run.id, unit_test_id=spec["unit_test_id"],
                                          run_index=index, position=position))
            position += 1
    for first in range(min(run.concurrency, total)):
        await enqueue_item(session, who.org_id, run.id, first, settings)
    if total == 0:
        await enqueue_finalize(session, who.org_id, run.id)
    test_set.last_triggered_run_id = run.id
    await session.flush()
    return u.CreateSimulationUnitTestSetRunResponse(simulation_unit_test_set_run_id=run.id)


async def enqueue_item(session: AsyncSession, org_id: str, run_id: str, position: int,
                       settings: SimulationSettings | None = None) -> None:
    settings = settings or SimulationSettings()
    await enqueue(session, RUN_ITEM_JOB, {"org_id": org_id, "run_id": run_id, "position": position},
                      org_id=org_id, dedupe_key=f"simulation:{run_id}:{position}",
                      max_attempts=max(1, settings.job_max_attempts))


async def enqueue_finalize(session: AsyncSession, org_id: str, run_id: str) -> None:
    await enqueue(session, FINALIZE_JOB, {"org_id": org_id, "run_id": run_id}, org_id=org_id,
                      dedupe_key=f"simulation:{run_id}:finalize", max_attempts=5)


async def settle_item(session: AsyncSession, run: SimulationUnitTestSetRun, item: SimulationRunItem) -> None:
    """After ``item`` reached ``done`` or ``cancelled`` (in this transaction): update the run's flags, queue the
    item ``concurrency`` places later, and queue the finalization once nothing is left."""
    if item.status == DONE:
        if item.error:
            run.errored = True
        elif item.passed is False:
            run.failed_metrics = True
    await session.flush()
    following = item.position + run.concurrency
    if run.status == "running" and following < run.total_items:
        await enqueue_item(session, run.org_id, run.id, following)
    unsettled = await session.scalar(select(func.count()).select_from(SimulationRunItem).where(
        SimulationRunItem.org_id == run.org_id, SimulationRunItem.run_id == run.id,
        SimulationRunItem.status.in_([PENDING, RUNNING]),
    ))
    if not unsettled:
        await enqueue_finalize(session, run.org_id, run.id)


async def cancel_run(session: AsyncSession, who: Principal, run_id: str) -> None:
    run = await repo.get(session, SimulationUnitTestSetRun, who.org_id, run_id, lock=True)
    if run is None:
        raise NotFound(f"Simulation unit test set run {run_id} not found.")
    if run.status != "running":
        raise Conflict("The simulation unit test set run is not in progress.")
    run.status = "cancelled"
    run.open_key = None
    now = utcnow()
    await session.execute(
        update(SimulationRunItem)
        .where(SimulationRunItem.org_id == who.org_id, SimulationRunItem.run_id == run.id,
               SimulationRunItem.status == PENDING)
        .values(status=CANCELLED, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    running = await session.scalar(select(func.count()).select_from(SimulationRunItem).where(
        SimulationRunItem.org_id == who.org_id, SimulationRunItem.run_id == run.id, SimulationRunItem.status == RUNNING,
    ))
    if not running:
        await enqueue_finalize(session, who.org_id, run.id)
    await session.flush()
