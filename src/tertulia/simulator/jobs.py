"""Job handlers: one simulated conversation (``simulation.run-item``) and the run's finalization
(``simulation.finalize-run``: reliability figures, artifacts, ``is_completed``).

Exactly once in effect: an item's result, its metric results, the next item's job and the removal of its simulated
user are written in ONE transaction that first settles the job (``ctx.settle``). A worker that dies mid-conversation
leaves the item ``running``; the job is reclaimed when its lease expires and the new attempt removes the dead
attempt's conversation and user, then starts the conversation again. A settled item is never run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from tertulia.conversation.service import SIMULATION_RUN_TAG
from tertulia.core.clock import utcnow
from tertulia.jobs.registry import JobContext, register
from tertulia.simulation import FINALIZE_JOB, RUN_ITEM_JOB
from tertulia.simulation import repository as repo
from tertulia.simulation.models import (
    CANCELLED,
    DONE,
    PENDING,
    RUNNING,
    SimulationPersona,
    SimulationPersonaVersion,
    SimulationRunItem,
    SimulationScenarioVersion,
    SimulationUnitTestSetRun,
)
from tertulia.simulation.runs import settle_item
from tertulia.simulation.settings import SimulationSettings
from tertulia.simulator import judging, persona_user, turn_driver
from tertulia.simulator.artifacts import build_artifacts, store_artifacts
from tertulia.simulator.conversation import ERRORED, MAX_INTERACTIONS, Outcome, Plan, simulate
from tertulia.simulator.simulated_user import Persona, Scenario, user_model_name

log = logging.getLogger("tertulia.simulation")


@dataclass
class Claimed:
    run_id: str
    position: int
    unit_test_id: str
    run_index: int
    spec: dict[str, Any]
    profile: persona_user.PersonaProfile
    plan: Plan
    restart: bool


async def _claim(ctx: JobContext, settings: SimulationSettings) -> Claimed | None:
    org_id, run_id, position = ctx.payload["org_id"], ctx.payload["run_id"], int(ctx.payload["position"])
    async with ctx.runtime.db.unit_of_work() as session:
        run = await repo.get(session, SimulationUnitTestSetRun, org_id, run_id)
        item = await repo.run_item(session, org_id, run_id, position)
        if run is None or item is None or item.status not in (PENDING, RUNNING):
            return None
        if run.status != "running":  # cancelled while a dead worker held this item: settle it as cancelled
            return Claimed(run_id, position, item.unit_test_id, item.run_index, {}, None, None, True)  # type: ignore[arg-type]
        claimed = await session.execute(
            update(SimulationRunItem).where(SimulationRunItem.id == item.id, SimulationRunItem.status.in_([PENDING, RUNNING]))
            .values(status=RUNNING, started_at=utcnow()).execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # cancelled meanwhile
            return None
        spec = next(s for s in run.unit_test_run_specs if s["unit_test_id"] == item.unit_test_id)
        persona_id, persona_v = spec["persona_version_info"]
        scenario_id, scenario_v = spec["scenario_version_info"]
        head = await repo.get(session, SimulationPersona, org_id, persona_id)
        pv = await session.scalar(select(SimulationPersonaVersion).where(
            SimulationPersonaVersion.org_id == org_id, SimulationPersonaVersion.persona_id == persona_id,
            SimulationPersonaVersion.version == persona_v))
        sv = await session.scalar(select(SimulationScenarioVersion).where(
            SimulationScenarioVersion.org_id == org_id, SimulationScenarioVersion.scenario_id == scenario_id,
            SimulationScenarioVersion.version == scenario_v))
        assert head is not None and pv is not None and sv is not None
    profile = persona_user.PersonaProfile(
        head.name, head.role, pv.background, pv.preferred_language, pv.timezone, list(pv.user_models or []),
        dict(pv.nonsensitive_user_variables or {}), dict(pv.sensitive_user_variables or {}),
    )
    model, params = user_model_name(spec.get("llm_model_preferences") or {}, settings.user_model)
    plan = Plan(
        service_id=spec["service_id"], version_set=spec["service_version_set_name"],
        agent_version_info=spec["agent_version_info"],
        graph_version_info=spec["service_hierarchical_state_machine_version_info"],
        max_interactions=int(spec["max_interactions"]),
        persona=Persona(head.name, head.role, pv.background, profile.user_models, pv.preferred_language, pv.timezone),
        scenario=Scenario(sv.objective, sv.instructions, sv.initial_message_type, sv.conversation_starts_at),
        user_model=model,
        user_model_params=params,
        tags={SIMULATION_RUN_TAG: run_id, "simulation_unit_test": item.unit_test_id},
    )
    return Claimed(run_id, position, item.unit_test_id, item.run_index, spec, profile, plan, item.status == RUNNING)


async def _cancelled(runtime: Any, org_id: str, run_id: str) -> bool:
    async with runtime.db.unit_of_work() as session:
        status = await session.scalar(select(SimulationUnitTestSetRun.status).where(
            SimulationUnitTestSetRun.org_id == org_id, SimulationUnitTestSetRun.id == run_id))
    return status != "running"


async def _watch(runtime: Any, org_id: str, run_id: str, every: float) -> None:
    while not await _cancelled(runtime, org_id, run_id):
        await asyncio.sleep(every)


async def run_item(ctx: JobContext) -> None:
    runtime, settings = ctx.runtime, SimulationSettings()
    org_id = ctx.payload["org_id"]
    claimed = await _claim(ctx, settings)
    if claimed is None:
        return  # settled already (a duplicate delivery) or cancelled: the worker completes the job
    if claimed.plan is None:
        return await _settle_cancelled(ctx, org_id, claimed)
    user_id = persona_user.user_id_for(claimed.run_id, claimed.position)
    async with runtime.db.unit_of_work() as session:
        await persona_user.remove_leftovers(session, org_id, user_id)  # a restart after a dead worker
        who = await persona_user.create_user(session, org_id, user_id, claimed.profile)
    outcome, cancelled = Outcome(), False
    conversation = asyncio.create_task(simulate(runtime, who, claimed.plan, outcome))
    watcher = asyncio.create_task(_watch(runtime, org_id, claimed.run_id, settings.cancel_poll_seconds))
    try:
        await asyncio.wait({conversation, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not conversation.done():
            conversation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conversation
            if watcher.exception() is not None:  # could not read the run (database): retry the whole item
                raise watcher.exception()  # type: ignore[misc]
            cancelled = True
    finally:
        for task in (conversation, watcher):
            task.cancel()
        await asyncio.gather(conversation, watcher, return_exceptions=True)
    if not cancelled and conversation.exception() is not None:  # not the agent or the LLM: infrastructure
        if ctx.job.attempts < ctx.job.max_attempts:
            raise conversation.exception()  # type: ignore[misc]  # retried: the next attempt starts over
        outcome.stop_reason, outcome.error = ERRORED, f"The simulation failed: {conversation.exception()!r}"
    if not cancelled and outcome.stop_reason in (MAX_INTERACTIONS, ERRORED) and outcome.conversation_id:
        await turn_driver.finish(runtime, who, outcome.conversation_id)  # best effort: leave no open conversation
    entries_error, verdicts = None, None
    if not cancelled and outcome.error is None and outcome.conversation_id:
        try:
            verdicts = await judging.judge_conversation(runtime, org_id, outcome.conversation_id, claimed.spec)
        except Exception as exc:  # noqa: BLE001 - the judge's model failed: the repetition errored
            entries_error = f"Evaluating the success criteria failed: {type(exc).__name__}: {exc}"
    async with ctx.settle() as session:
        run = await repo.get(session, SimulationUnitTestSetRun, org_id, claimed.run_id, lock=True)
        item = await repo.run_item(session, org_id, claimed.run_id, claimed.position)
        assert run is not None and item is not None
        item.conversation_id, item.interactions = outcome.conversation_id, outcome.interactions
        item.stop_reason, item.finished_at = outcome.stop_reason, utcnow()
        if cancelled:
            item.status, item.stop_reason = CANCELLED, "cancelled"
        else:
            item.status = DONE
            item.error = outcome.error or entries_error
            item.failure = outcome.failure
            passed = False
            if verdicts is not None and item.error is None:
                item.metric_results, held = await judging.store(
                    session, org_id, verdicts, claimed.spec, run_id=claimed.run_id, run_index=claimed.run_index,
                    conversation_id=outcome.conversation_id or "")
                passed = held and outcome.stop_reason != MAX_INTERACTIONS
            item.passed = passed
        await persona_user.remove_user(session, org_id, user_id)
        await settle_item(session, run, item)
    log.info("simulation run %s item %d: %s", claimed.run_id, claimed.position, item.stop_reason)


async def _settle_cancelled(ctx: JobContext, org_id: str, claimed: Claimed) -> None:
    async with ctx.settle() as session:
        run = await repo.get(session, SimulationUnitTestSetRun, org_id, claimed.run_id, lock=True)
        item = await repo.run_item(session, org_id, claimed.run_id, claimed.position)
        assert run is not None and item is not None
        await persona_user.remove_leftovers(session, org_id, persona_user.user_id_for(claimed.run_id, claimed.position))
        item.status, item.stop_reason, item.finished_at = CANCELLED, "cancelled", utcnow()
        await settle_item(session, run, item)


async def finalize_run(ctx: JobContext) -> None:
    runtime, org_id, run_id = ctx.runtime, ctx.payload["org_id"], ctx.payload["run_id"]
    async with runtime.db.unit_of_work() as session:
        run = await repo.get(session, SimulationUnitTestSetRun, org_id, run_id)
        if run is None or run.is_completed:
            return
        document = await build_artifacts(session, run)
    key = await store_artifacts(runtime, org_id, run_id, document)
    async with ctx.settle() as session:
        run = await repo.get(session, SimulationUnitTestSetRun, org_id, run_id, lock=True)
        assert run is not None
        if run.status == "running":
            run.status = "completed"
        run.is_completed, run.open_key, run.finished_at = True, None, utcnow()
        run.artifacts_key, run.artifacts_generated = key, key is not None


register(RUN_ITEM_JOB, run_item)
register(FINALIZE_JOB, finalize_run)
