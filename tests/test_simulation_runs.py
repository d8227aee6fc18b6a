"""Unit test set runs over HTTP, with the scripted LLM at the port: simulated conversations through the real turn
service, success criteria judged, results and flags, reliability figures and artifacts, permission effects,
max_interactions failure, cancel mid-run (what finished is kept), and simulated conversations' isolation."""

from __future__ import annotations

import asyncio

import pytest
from amigo_sdk.generated import model as sdk
from sqlalchemy import func, select

from tertulia.auth.permissions import grant
from tertulia.engine.fakes import ScriptedLLM
from tertulia.jobs.models import Job
from tertulia.simulation.models import SimulationRunItem
from tertulia.user.models import User
from tests.support.postprocessing import drain
from tests.support.simulation import add_user, create_scenario, create_set, create_unit_test, simulation_fixture

USER = "SimulateUser"
JUDGE = "EvaluateMetric"


@pytest.fixture
def llm(runtime, monkeypatch):
    monkeypatch.setenv("TERTULIA_SIMULATION_CONCURRENCY", "1")
    monkeypatch.setenv("TERTULIA_SIMULATION_CANCEL_POLL_SECONDS", "0.05")
    previous = runtime.llm
    runtime.llm = ScriptedLLM()
    yield runtime.llm
    runtime.llm = previous


def says(message: str, reached: bool = False) -> dict:
    return {"objective_reached": reached, "message": message}


def verdict(value) -> dict:  # noqa: ANN001
    return {"value": value, "references": [], "justification": "Judged from the transcript."}


async def start_run(client, tenant, set_id: str) -> str:  # noqa: ANN001
    r = await client.post(tenant.url("/simulation/unit_test_set_run/"), json={"simulation_unit_test_set_id": set_id},
                          headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()["simulation_unit_test_set_run_id"]


async def get_run(client, tenant, run_id: str) -> dict:  # noqa: ANN001
    r = await client.get(tenant.url("/simulation/unit_test_set_run/"), params={"id": run_id}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    sdk.SimulationGetSimulationUnitTestSetRunsResponse.model_validate(r.json())
    (run,) = r.json()["simulation_unit_test_set_runs"]
    return run


async def fetch_artifacts(client, tenant, run_id: str) -> dict:  # noqa: ANN001
    r = await client.get(tenant.url(f"/simulation/unit_test_set_run/{run_id}/artifacts/"), headers=tenant.headers)
    assert r.status_code == 200, r.text
    body = sdk.SimulationGetSimulationUnitTestSetRunArtifactsResponse.model_validate(r.json())
    blob = await client.get(body.presigned_url.replace("http://tertulia.test", ""))
    assert blob.status_code == 200 and blob.headers["content-type"].startswith("application/json")
    return blob.json()


async def test_run_judges_each_repetition_and_reports_reliability(client, runtime, tenant, llm):
    fx = await simulation_fixture(client, tenant)
    test_id = await create_unit_test(client, tenant, fx, max_interactions=3)
    set_id = await create_set(client, tenant, [(test_id, 2)])
    for _ in range(2):
        llm.script_decision(USER, says("I wake up at 4 every night."))
        llm.script_decision(USER, says("Thanks, that helps.", reached=True))
    llm.script_decision(JUDGE, verdict(True))
    llm.script_decision(JUDGE, verdict(False))
    run_id = await start_run(client, tenant, set_id)
    again = await client.post(tenant.url("/simulation/unit_test_set_run/"), json={"simulation_unit_test_set_id": set_id},
                              headers=tenant.headers)
    assert again.status_code == 409
    pending = await get_run(client, tenant, run_id)
    assert not pending["is_completed"] and pending["unit_test_run_results"] == [None]
    spec = pending["unit_test_run_specs"][0]
    assert spec["agent_version_info"] == [fx.agent_id, 1] and spec["persona_version_info"] == [fx.persona_id, 1]
    assert spec["run_count"] == 2 and spec["metrics_to_evaluate"][0]["success_criterion_name"] == "tip"
    assert "service_id" not in spec  # internal pins stay internal
    not_yet = await client.get(tenant.url(f"/simulation/unit_test_set_run/{run_id}/artifacts/"), headers=tenant.headers)
    assert not_yet.status_code == 400

    await drain(runtime, tenant.org_id)

    run = await get_run(client, tenant, run_id)
    assert run["is_completed"] and run["artifacts_generated"] and run["failed_metrics"] and not run["errored"]
    (result,) = run["unit_test_run_results"]
    assert result["run_errors"] == [None, None]
    (evaluation,) = result["metric_evaluation_results"]
    assert evaluation["metric_id"] == fx.metric_id and evaluation["metric_version"] == 1
    assert [passed for _, passed in evaluation["results"]] == [True, False]
    stored = (await client.get(tenant.url("/metric/metric_evaluation_result"), headers=tenant.headers,
                               params={"simulation_unit_test_set_run_id": run_id})).json()["metric_evaluation_results"]
    assert sorted(r["id"] for r in stored) == sorted(i for i, _ in evaluation["results"])
    assert {r["source"]["type"] for r in stored} == {"simulation"}
    assert sorted(r["source"]["run_index"] for r in stored) == [0, 1]

    # the persona reached the agent like a real user: its user model is in the agent's prompt
    engage = [r for r in llm.requests if r.interaction == "EngageUser"]
    assert engage and all("Maria prefers short, concrete suggestions." in "\n".join(m.content for m in r.messages)
                          for r in engage)
    # the simulated user spoke as the persona, towards the scenario's objective
    assert "Get one concrete tip to fall asleep faster." in llm.requests[0].messages[0].content

    document = await fetch_artifacts(client, tenant, run_id)
    (unit_test,) = document["unit_tests"]
    figures = unit_test["reliability"]
    assert (figures["runs"], figures["passed"], figures["pass_rate"], figures["pass_hat_k"]) == (2, 1, 0.5, 0.0)
    assert 0.09 < figures["ci95_low"] < 0.1 and 0.9 < figures["ci95_high"] < 0.91
    assert document["flakiest_first"] == [test_id]
    first = unit_test["repetitions"][0]
    assert first["stop_reason"] == "objective-reached" and first["interactions"] == 1
    assert [m["message"] for m in first["transcript"] if m["message_type"] == "user-message"] == ["I wake up at 4 every night."]
    assert first["insights"] and first["metric_results"][0]["passed"] is True

    # every simulated conversation opens with the ordinary conversation endpoints
    conversation_id = first["conversation_id"]
    its_results = (await client.get(tenant.url("/metric/metric_evaluation_result"), headers=tenant.headers,
                                    params={"conversation_id": conversation_id})).json()["metric_evaluation_results"]
    assert [r["id"] for r in its_results] == [first["metric_results"][0]["result_id"]]
    messages = await client.get(tenant.url(f"/conversation/{conversation_id}/messages/"), headers=tenant.headers)
    assert messages.status_code == 200 and len(messages.json()["messages"]) == 2
    interaction_id = first["insights"][0]["interaction_id"]
    insights = await client.get(tenant.url(f"/conversation/{conversation_id}/interaction/{interaction_id}/insights"),
                                headers=tenant.headers)
    assert insights.status_code == 200
    # ... but stays out of ordinary listings unless asked for (by id or by its run's tag)
    assert (await client.get(tenant.url("/conversation/"), headers=tenant.headers)).json()["conversations"] == []
    tagged = (await client.get(tenant.url("/conversation/"), params={"tag": f"simulation_run:{run_id}"},
                               headers=tenant.headers)).json()["conversations"]
    assert sorted(c["id"] for c in tagged) == sorted(r["conversation_id"] for r in unit_test["repetitions"])
    by_id = (await client.get(tenant.url("/conversation/"), params={"id": conversation_id}, headers=tenant.headers)).json()
    assert [c["id"] for c in by_id["conversations"]] == [conversation_id]
    # ... and triggers no post-processing (no memories, user models, metrics or webhooks), leaves no simulated user
    async with runtime.db.sessions() as session:
        post = await session.scalar(select(func.count()).select_from(Job).where(
            Job.org_id == tenant.org_id, Job.kind.like("post-processing.%")))
        users = await session.scalar(select(func.count()).select_from(User).where(
            User.org_id == tenant.org_id, User.user_id.like("sim-%")))
    assert post == 0 and users == 0
    sets = (await client.get(tenant.url("/simulation/unit_test_set/"), params={"id": set_id}, headers=tenant.headers)).json()
    assert sets["simulation_unit_test_sets"][0]["last_triggered_run_id"] == run_id
    assert (await client.delete(tenant.url(f"/simulation/unit_test_set_run/{run_id}/"), headers=tenant.headers)).status_code == 409
    filtered = (await client.get(tenant.url("/simulation/unit_test_set_run/"), headers=tenant.headers,
                                 params={"failed_metrics": False})).json()
    assert filtered["simulation_unit_test_set_runs"] == []

    # permission effects on the run listing
    runs_only = await add_user(client, runtime, tenant, [grant("Simulation:GetSimulationUnitTestSetRun")])
    bare = await get_run(client, runs_only, run_id)
    assert bare["unit_test_run_specs"] == [] and bare["unit_test_run_results"] == []
    with_set = await add_user(client, runtime, tenant, [grant("Simulation:GetSimulationUnitTestSetRun"),
                                                        grant("Simulation:GetSimulationUnitTestSet")])
    partial = await get_run(client, with_set, run_id)
    assert partial["unit_test_run_specs"][0]["persona_version_info"] is None
    assert partial["unit_test_run_specs"][0]["metrics_to_evaluate"] == []
    assert partial["unit_test_run_results"][0]["metric_evaluation_results"] == []
    assert partial["unit_test_run_results"][0]["run_errors"] == [None, None]
    nobody = await add_user(client, runtime, tenant, [])
    listed = await client.get(tenant.url("/simulation/unit_test_set_run/"), headers=nobody.headers)
    assert listed.json()["simulation_unit_test_set_runs"] == []
    assert (await client.get(tenant.url(f"/simulation/unit_test_set_run/{run_id}/artifacts/"),
                             headers=runs_only.headers)).status_code == 403


async def test_max_interactions_is_a_failure(client, runtime, tenant, llm, monkeypatch):
    monkeypatch.setenv("TERTULIA_SIMULATION_USER_MODEL", "simulated-user-model")
    fx = await simulation_fixture(client, tenant)
    test_id = await create_unit_test(client, tenant, fx, max_interactions=2)
    set_id = await create_set(client, tenant, [(test_id, 1)])
    for text in ("Hi, I sleep badly.", "Can you say more?", "Still not what I need."):
        llm.script_decision(USER, says(text))
    llm.script_decision(JUDGE, verdict(True))
    run_id = await start_run(client, tenant, set_id)
    await drain(runtime, tenant.org_id)
    run = await get_run(client, tenant, run_id)
    assert run["is_completed"] and run["failed_metrics"] and not run["errored"]
    (error,) = run["unit_test_run_results"][0]["run_errors"]
    assert error.startswith("Failed: max_interactions (2)")
    document = await fetch_artifacts(client, tenant, run_id)
    repetition = document["unit_tests"][0]["repetitions"][0]
    assert repetition["stop_reason"] == "max-interactions" and repetition["interactions"] == 2
    assert repetition["passed"] is False and repetition["metric_results"][0]["passed"] is True  # the metric held
    assert llm.calls[USER] == 3  # asked after the last turn too: the objective could have been met there
    assert {r.model for r in llm.requests if r.interaction == USER} == {"simulated-user-model"}
    conversation = (await client.get(tenant.url("/conversation/"), params={"id": repetition["conversation_id"]},
                                     headers=tenant.headers)).json()["conversations"][0]
    assert conversation["is_finished"]


async def test_agent_error_marks_the_run_errored(client, runtime, tenant, llm):
    fx = await simulation_fixture(client, tenant)
    test_id = await create_unit_test(client, tenant, fx)
    set_id = await create_set(client, tenant, [(test_id, 1)])
    llm.script_decision(USER, says("Hello?"))
    llm.fail("EngageUser")
    run_id = await start_run(client, tenant, set_id)
    await drain(runtime, tenant.org_id)
    run = await get_run(client, tenant, run_id)
    assert run["is_completed"] and run["errored"] and not run["failed_metrics"]
    (error,) = run["unit_test_run_results"][0]["run_errors"]
    assert error.startswith("The agent's turn failed")
    assert run["unit_test_run_results"][0]["metric_evaluation_results"][0]["results"] == []


async def test_cancel_mid_run_keeps_what_finished(client, runtime, tenant, llm):
    fx = await simulation_fixture(client, tenant)
    test_id = await create_unit_test(client, tenant, fx)
    set_id = await create_set(client, tenant, [(test_id, 3)])
    llm.script_decision(USER, says("First run."))
    llm.script_decision(USER, says("Done.", reached=True))

    def second_opening(request, schema):  # noqa: ANN001
        llm.hang("EngageUser")  # the second conversation's opening turn never answers: only cancel stops it
        return says("Second run.")

    llm.script_decision(USER, second_opening)
    llm.script_decision(JUDGE, verdict(True))
    run_id = await start_run(client, tenant, set_id)
    worker = asyncio.create_task(drain(runtime, tenant.org_id, timeout=30))
    for _ in range(400):
        async with runtime.db.sessions() as session:
            statuses = (await session.scalars(select(SimulationRunItem.status).where(
                SimulationRunItem.run_id == run_id).order_by(SimulationRunItem.position))).all()
        if statuses == ["done", "running", "pending"] and llm.calls["EngageUser"] == 2:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError(f"the second conversation never started: {statuses}")
    loop = asyncio.get_running_loop()
    cancelled_at = loop.time()
    assert (await client.delete(tenant.url(f"/simulation/unit_test_set_run/{run_id}/"), headers=tenant.headers)).status_code == 204
    assert (await client.delete(tenant.url(f"/simulation/unit_test_set_run/{run_id}/"), headers=tenant.headers)).status_code == 409
    await asyncio.wait_for(worker, 10)
    assert loop.time() - cancelled_at < 3  # prompt, although the agent's LLM call never returns
    run = await get_run(client, tenant, run_id)
    assert run["is_completed"] and run["artifacts_generated"] and not run["errored"]
    result = run["unit_test_run_results"][0]
    assert result["run_errors"] == [None, "Cancelled before completion.", "Cancelled before completion."]
    assert [passed for _, passed in result["metric_evaluation_results"][0]["results"]] == [True]
    document = await fetch_artifacts(client, tenant, run_id)
    assert document["cancelled"] and document["aggregate"]["cancelled"] == 2
    assert [r["status"] for r in document["unit_tests"][0]["repetitions"]] == ["done", "cancelled", "cancelled"]
    rerun = await client.post(tenant.url("/simulation/unit_test_set_run/"), json={"simulation_unit_test_set_id": set_id},
                              headers=tenant.headers)
    assert rerun.status_code == 201  # a cancelled run no longer blocks a new one


async def test_scenario_openings_and_start_time(client, runtime, tenant, llm):
    """skip: the agent speaks first; external-event: the simulated user's opening is an external event; the start
    time reaches the simulated user in the persona's time zone."""
    fx = await simulation_fixture(client, tenant)
    skip = await create_scenario(client, tenant, name="Agent opens", initial_message_type="skip",
                                 conversation_starts_at="2026-03-01T21:30:00Z")
    event = await create_scenario(client, tenant, name="Reminder opens", initial_message_type="external-event")
    first = await create_unit_test(client, tenant, fx, name="Skip opening", scenario_id=skip, max_interactions=1)
    second = await create_unit_test(client, tenant, fx, name="Event opening", scenario_id=event, max_interactions=1)
    set_id = await create_set(client, tenant, [(first, 1), (second, 1)])
    llm.script_decision(USER, says("Done.", reached=True))  # skip: asked only after the agent's opening
    llm.script_decision(USER, says("The user opened the app from a sleep reminder."))
    llm.script_decision(USER, says("Thanks.", reached=True))
    run_id = await start_run(client, tenant, set_id)
    await drain(runtime, tenant.org_id)
    document = await fetch_artifacts(client, tenant, run_id)
    skipped, evented = (u["repetitions"][0] for u in document["unit_tests"])
    assert [m["message_type"] for m in skipped["transcript"]] == ["agent-message"]
    assert skipped["stop_reason"] == "objective-reached"
    assert [m["message_type"] for m in evented["transcript"]][:2] == ["external-event", "agent-message"]
    assert evented["transcript"][0]["message"] == "The user opened the app from a sleep reminder."
    prompt = next(r for r in llm.requests if r.interaction == USER).messages[0].content  # the skip scenario's
    assert "Sunday 01 March 2026 at 22:30 (CET)" in prompt  # 21:30 UTC in Europe/Madrid
