"""A real ``tertulia serve`` process is killed (``kill -9``) while a simulated conversation of a run is in flight.
After a restart the job is reclaimed when its lease expires, the dead attempt's conversation is removed and the
conversation runs again: the run completes with exactly one result per repetition, nothing duplicated, nothing
lost. The LLM is the OpenAI-compatible stub (its decisions: each schema's first valid value)."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import func, select

from tertulia.conversation.models import Conversation
from tertulia.core.db import Database
from tertulia.jobs.models import Job
from tertulia.metric.models import MetricEvaluationResult
from tertulia.simulation.models import SimulationRunItem
from tests.support.cluster import Cluster, Fault, FaultyLLM
from tests.support.simulation import PERSONA_VERSION, SCENARIO_VERSION


def _post(url: str, headers: dict, body: dict) -> dict:
    r = httpx.post(url, json=body, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def _setup(cluster: Cluster, headers: dict) -> str:
    url = lambda path: cluster.url(0, path)  # noqa: E731
    persona = _post(url("/simulation/persona/"), headers, {"name": "Crash persona", "role": "user", "tags": {},
                                                           "initial_version": PERSONA_VERSION})
    scenario = _post(url("/simulation/scenario/"), headers, {"name": "Crash scenario", "tags": {},
                                                             "initial_version": SCENARIO_VERSION})
    metric = _post(url("/metric/"), headers, {
        "name": "Helpful", "applied_to_services": [], "additional_notes": None, "tags": {},
        "initial_version_metric_value": {"description": "Was the agent helpful?", "metric_value": {"type": "boolean"}}})
    test = _post(url("/simulation/unit_test/"), headers, {
        "name": "Survives a crash", "description": "d", "service_id": cluster.credentials.service_id,
        "service_version_set_name": "release", "persona_id": persona["simulation_persona_id"],
        "scenario_id": scenario["simulation_scenario_id"], "max_interactions": 2, "tags": {},
        "success_criterions": [{"name": "helpful", "metric_id": metric["id"],
                                "criterion": {"type": "boolean", "expected_value": False}}]})
    test_set = _post(url("/simulation/unit_test_set/"), headers, {
        "name": "Crash set", "description": None, "tags": {},
        "unit_test_runs": [{"unit_test_id": test["simulation_unit_test_id"], "run_count": 2}]})
    return test_set["simulation_unit_test_set_id"]


async def _db_state(url: str, run_id: str) -> dict:
    db = Database(url)
    try:
        async with db.sessions() as session:
            items = (await session.scalars(select(SimulationRunItem).where(SimulationRunItem.run_id == run_id)
                                           .order_by(SimulationRunItem.position))).all()
            conversations = (await session.scalars(select(Conversation.id).where(
                Conversation.user_id.like(f"sim-{run_id}-%")))).all()
            results = await session.scalar(select(func.count()).select_from(MetricEvaluationResult).where(
                MetricEvaluationResult.result_key.like(f"simulation:{run_id}:%")))
            attempts = (await session.scalars(select(Job.attempts).where(Job.dedupe_key == f"simulation:{run_id}:0"))).all()
        return {"items": items, "conversations": sorted(conversations), "results": results, "attempts": attempts}
    finally:
        await db.dispose()


def test_killed_worker_mid_conversation_neither_duplicates_nor_loses(tmp_path):
    with FaultyLLM() as llm, Cluster(tmp_path, 1, llm_base_url=llm.base_url, extra_env={
        "TERTULIA_JOBS_LEASE_SECONDS": "3", "TERTULIA_SIMULATION_CONCURRENCY": "1",
        "TERTULIA_SIMULATION_CANCEL_POLL_SECONDS": "0.2",
    }) as cluster:
        headers = cluster.sign_in(0)
        set_id = _setup(cluster, headers)
        llm.set(Fault.HANG_MID_STREAM)  # decisions answer; the agent's streamed reply hangs: mid-conversation
        run_id = _post(cluster.url(0, "/simulation/unit_test_set_run/"), headers,
                       {"simulation_unit_test_set_id": set_id})["simulation_unit_test_set_run_id"]
        llm.wait_hanging()
        before = asyncio.run(_db_state(cluster.database_url, run_id))
        assert [i.status for i in before["items"]] == ["running", "pending"]
        assert len(before["conversations"]) == 1  # the opening turn is in flight
        cluster.kill(0)
        llm.set(Fault.NONE)
        cluster.restart(0)
        headers = cluster.sign_in(0)
        deadline = time.time() + 90
        while time.time() < deadline:
            runs = httpx.get(cluster.url(0, "/simulation/unit_test_set_run/"), params={"id": run_id}, headers=headers,
                             timeout=30).json()["simulation_unit_test_set_runs"]
            if runs and runs[0]["is_completed"]:
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the run did not complete after the restart:\n" + cluster.logs())
        (run,) = runs
        assert not run["errored"], run
        (result,) = run["unit_test_run_results"]
        assert len(result["run_errors"]) == 2
        assert len(result["metric_evaluation_results"][0]["results"]) == 2
        after = asyncio.run(_db_state(cluster.database_url, run_id))
        assert [i.status for i in after["items"]] == ["done", "done"]
        # reclaimed after the kill (a short lease on a busy machine may be lost and reclaimed once more: still one result)
        assert after["attempts"][0] >= 2
        assert after["results"] == 2  # one stored metric result per repetition: no duplicate
        assert after["conversations"] == sorted(i.conversation_id for i in after["items"])  # dead attempt's removed
        assert before["conversations"][0] not in after["conversations"]
