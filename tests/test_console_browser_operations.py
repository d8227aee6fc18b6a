"""The web console in a real browser, operations: a failed job retried (and webhook deliveries with their attempts);
simulation runs with pass rate and pass^k per unit test, a failed repetition opening its simulated conversation."""

from __future__ import annotations

import re
from typing import Any

from tests.support.browser import (  # noqa: F401  (fixtures: browser, org, page, server)
    SKIP,
    Org,
    browser,
    org,
    page,
    server,
    shot,
    sign_in,
)

pytestmark = SKIP


def test_a_failed_job_can_be_retried(page: Any, org: Org) -> None:
    from tests.support.postprocessing import WebhookReceiver, drain

    receiver = WebhookReceiver(statuses=[500])  # the first delivery attempt fails, its retry succeeds
    destination = org.http.post("/webhook_destination/", json={
        "url": receiver.url, "accepted_types": ["conversation-post-processing-complete"], "retry_attempts": 3})
    assert destination.status_code == 201, destination.text
    conversation_id = org.start()
    org.say(conversation_id, "Thanks, that is all.")
    for _ in range(5):  # every attempt of the memory extraction fails: the job ends failed
        org.server.runtime.llm.fail("ExtractMemories")
    assert org.http.post(f"/conversation/{conversation_id}/finish/").status_code == 204
    org.server.call(drain(org.server.runtime, org.tenant.org_id))

    sign_in(page, org, "/console/operations")
    failed = page.locator("#jobs tr[data-status='failed']")
    failed.wait_for()
    assert failed.count() == 1
    assert "post-processing.extract-memories" in failed.text_content()
    assert "scripted failure in ExtractMemories" in failed.locator("td.error").text_content()
    assert "5/5" in failed.text_content()
    assert "failed 1" in page.text_content("#job-counts")
    page.wait_for_selector("#deliveries tr .badge")
    deliveries = page.locator("#deliveries tr")
    assert deliveries.count() == len(receiver.received) - 1 >= 1  # one delivery had two attempts
    text = deliveries.all_text_contents()
    assert all(receiver.url in row and "conversation-post-processing-complete" in row and "success" in row for row in text)
    assert any("500 at" in row and "200 at" in row for row in text)
    shot(page, "operations")
    job_id = failed.get_attribute("data-job")
    failed.locator("button.retry").click()
    page.wait_for_selector(f"#jobs tr[data-job='{job_id}'][data-status='queued']")
    assert "0/5" in page.text_content(f"#jobs tr[data-job='{job_id}']")
    assert "queued again" in page.text_content("#flash")

    org.server.call(drain(org.server.runtime, org.tenant.org_id))  # the LLM answers now
    page.click("#job-filter button")
    page.wait_for_selector(f"#jobs tr[data-job='{job_id}'][data-status='succeeded']")
    assert page.locator("#jobs tr[data-status='failed']").count() == 0
    assert page.errors == []
    receiver.close()


def test_simulation_runs_show_pass_rate_and_open_a_failed_conversation(page: Any, org: Org, monkeypatch) -> None:
    from tests.support.postprocessing import drain
    from tests.support.simulation import PERSONA_VERSION, SCENARIO_VERSION

    def created(path: str, body: dict, key: str) -> str:
        r = org.http.post(path, json=body)
        assert r.status_code == 201, r.text
        return r.json()[key]

    persona = created("/simulation/persona/", {"name": "Maria", "role": "runner", "tags": {},
                                               "initial_version": PERSONA_VERSION}, "simulation_persona_id")
    scenario = created("/simulation/scenario/", {"name": "Running plan", "tags": {},
                                                 "initial_version": SCENARIO_VERSION}, "simulation_scenario_id")
    metric = created("/metric/", {"name": "Plan agreed", "applied_to_services": [], "additional_notes": None, "tags": {},
                                  "initial_version_metric_value": {"description": "Was a plan agreed?",
                                                                   "metric_value": {"type": "boolean"}}}, "id")
    test_id = created("/simulation/unit_test/", {
        "name": "Agrees a running plan", "description": "Maria leaves with a plan.", "service_id": org.service_id,
        "service_version_set_name": "release", "persona_id": persona, "scenario_id": scenario, "max_interactions": 2,
        "success_criterions": [{"name": "plan", "metric_id": metric,
                                "criterion": {"type": "boolean", "expected_value": True}}], "tags": {}},
        "simulation_unit_test_id")
    set_id = created("/simulation/unit_test_set/", {"name": "Nightly", "description": "Every night.", "tags": {},
                                                     "unit_test_runs": [{"unit_test_id": test_id, "run_count": 2}]},
                     "simulation_unit_test_set_id")
    monkeypatch.setenv("TERTULIA_SIMULATION_CONCURRENCY", "1")  # one repetition after the other: scripts in order
    llm = org.server.runtime.llm
    for _ in range(2):
        llm.script_decision("SimulateUser", {"objective_reached": False, "message": "I want to run on Mondays."})
        llm.script_decision("SimulateUser", {"objective_reached": True, "message": "Thanks, that works."})
    for value in (True, False):
        llm.script_decision("EvaluateMetric", {"value": value, "references": [], "justification": "From the transcript."})
    run_id = created("/simulation/unit_test_set_run/", {"simulation_unit_test_set_id": set_id},
                     "simulation_unit_test_set_run_id")
    sign_in(page, org, f"/console/simulations?run={run_id}")  # not run yet: figures from the listing
    page.wait_for_selector(f"#unit-tests section[data-unit-test='{test_id}'] .pass-rate")
    assert page.text_content("#run-state") == "in progress"
    assert "artifacts are not available" in page.text_content("#unit-tests")
    assert page.text_content(f"#unit-tests section[data-unit-test='{test_id}'] .pass-rate") == "pass rate —"

    org.server.call(drain(org.server.runtime, org.tenant.org_id))
    page.goto("/console/simulations")
    page.wait_for_selector(f"#runs tr[data-run='{run_id}']")
    row = page.text_content(f"#runs tr[data-run='{run_id}']")
    assert "Nightly" in row and "completed" in row and "failed metrics" in row and "50% (1/2)" in row
    page.click(f"#runs tr[data-run='{run_id}'] a")
    page.wait_for_selector(f"#unit-tests section[data-unit-test='{test_id}'] .pass-rate")
    section = page.locator(f"#unit-tests section[data-unit-test='{test_id}']")
    assert section.locator("h3").text_content() == "Agrees a running plan"
    assert section.locator(".pass-rate").text_content() == "pass rate 50%"
    assert section.locator(".pass-k").text_content() == "pass^2 0%"
    assert "95% CI" in section.locator(".figures").text_content()
    assert section.locator("tr.rep[data-verdict='passed']").count() == 1
    failed = section.locator("tr.rep[data-verdict='failed']")
    assert failed.count() == 1
    assert "plan: false (not met)" in failed.text_content()
    shot(page, "simulations")
    failed.locator("a.open-conversation").click()
    page.wait_for_url(re.compile(r"/console/conversations/[0-9a-f]{24}$"))
    page.wait_for_selector("#transcript .msg.user")
    assert "I want to run on Mondays." in page.text_content("#transcript")
    assert page.errors == []

    # a user who may read runs, tests and metric results but not the artifacts (they need the graph permission):
    # the same figures, from the run listing and the metric results' run_index
    user = org.server.call(_user_with(org, ["Simulation:GetSimulationUnitTestSetRun",
                                             "Simulation:GetSimulationUnitTestSet", "Simulation:GetSimulationUnitTest",
                                             "Metric:GetMetricEvaluationResult"]))
    page.click("#signout")
    page.goto(f"/console/simulations?run={run_id}")
    page.fill("#org_id", org.tenant.org_id)
    page.fill("#api_key", org.tenant.api_key)
    page.fill("#api_key_id", org.tenant.api_key_id)
    page.fill("#user_id", user)
    page.click("#signin-submit")
    page.wait_for_selector(f"#unit-tests section[data-unit-test='{test_id}'] .pass-rate")
    assert "artifacts are not available" in page.text_content("#unit-tests")
    assert page.text_content(f"#unit-tests section[data-unit-test='{test_id}'] .pass-rate") == "pass rate 50%"
    assert page.text_content(f"#unit-tests section[data-unit-test='{test_id}'] .pass-k") == "pass^2 0%"
    assert page.locator("#unit-tests tr.rep[data-verdict='failed']").count() == 1
    assert page.locator("#unit-tests a.open-conversation").count() == 0
    assert "50% (1/2)" in page.text_content(f"#runs tr[data-run='{run_id}']")
    assert page.errors == []


async def _user_with(org: Org, permissions: list[str]) -> str:
    """Another user of ``org`` whose role grants exactly ``permissions`` (its user id)."""
    import secrets

    from tertulia.auth.permissions import grant
    from tertulia.role.models import Role
    from tertulia.user.models import User

    async with org.server.runtime.db.sessions() as session:
        role = Role(org_id=org.tenant.org_id, name=f"Viewer{secrets.token_hex(3)}",
                    permission_grants=[grant(p) for p in permissions])
        session.add(role)
        await session.flush()
        user = User(org_id=org.tenant.org_id, first_name="Run", last_name="Viewer", role_id=role.id, preferences={},
                    email=f"{secrets.token_hex(4)}@example.com")
        session.add(user)
        await session.commit()
        return user.user_id
