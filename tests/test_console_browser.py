"""The web console in a real browser: Debian's chromium driven by Playwright against a live server with the scripted
fake LLM. Covers sign-in (and switching organization, signing out), a streamed playground turn with its live actions,
a conversation's insights (tags, feedback, metric results), the graph view with a highlighted path, markup shown as
text, a failed job's retry and webhook deliveries, simulation runs, a recorded voice note and a played voice reply,
and the phone layout. Screenshots of every page land in the artifacts folder (see ``tests/support/browser.py``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.browser import CHROMIUM_ARGS, ConsoleServer, artifacts_dir, browser_unavailable, chromium_path

WHY = browser_unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"browser tests need chromium and Playwright: {WHY}")

GRAPHS = "/organization/service_hierarchical_state_machine"


@pytest.fixture(scope="module")
def server(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    from tests.conftest import make_settings

    live = ConsoleServer(make_settings(migrated, tmp_path_factory.mktemp("console"))).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Org:
    """A fresh organization on the live server with the demo service, and an HTTP client signed in as its admin."""

    def __init__(self, server: ConsoleServer) -> None:
        from tests.support.orgs import make_tenant

        self.server = server
        self.tenant = server.call(make_tenant(server.runtime.db))
        self.http = httpx.Client(base_url=f"{server.base_url}/v1/{self.tenant.org_id}", timeout=30)
        signed = self.http.post("/user/signin_with_api_key", headers={
            "x-api-key": self.tenant.api_key, "x-api-key-id": self.tenant.api_key_id, "x-user-id": self.tenant.user_id})
        assert signed.status_code == 200, signed.text
        self.http.headers["Authorization"] = f"Bearer {signed.json()['id_token']}"
        self.service_id = server.call(self._demo())
        service = self.http.get("/service/", params={"id": self.service_id}).json()["services"][0]
        self.graph_id = service["service_hierarchical_state_machine_id"]
        self.agent_id = service["agent_id"]

    async def _demo(self) -> str:
        from tertulia.demo import install_demo_service

        async with self.server.runtime.db.sessions() as session:
            service_id = await install_demo_service(session, self.tenant.org_id,
                                                    {"org_id": self.tenant.org_id, "user_id": self.tenant.user_id})
            await session.commit()
        return service_id

    def events(self, response: httpx.Response) -> list[dict[str, Any]]:
        assert response.status_code in (200, 201), response.text
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def start(self) -> str:
        events = self.events(self.http.post("/conversation/", params={"response_format": "text"},
                                            json={"service_id": self.service_id}))
        assert events[-1]["type"] == "interaction-complete", events
        return events[0]["conversation_id"]

    def say(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        files = [("initial_message_type", (None, "user-message")),
                 ("recorded_message", ("m.txt", text.encode(), "text/plain"))]
        events = self.events(self.http.post(f"/conversation/{conversation_id}/interact",
                                            params={"request_format": "text", "response_format": "text"}, files=files))
        assert events[-1]["type"] == "interaction-complete", events
        return events


@pytest.fixture
def org(server: ConsoleServer) -> Iterator[Org]:
    made = Org(server)
    yield made
    made.http.close()


@pytest.fixture
def page(browser: Any, server: ConsoleServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=server.base_url)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors
    yield tab
    context.close()


def shot(tab: Any, name: str) -> None:
    tab.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=True)


def sign_in(tab: Any, org: Org, next_path: str = "/console") -> None:
    tab.goto(next_path)
    tab.wait_for_url(re.compile(r"/console/signin\?next="))
    tab.fill("#org_id", org.tenant.org_id)
    tab.fill("#api_key", org.tenant.api_key)
    tab.fill("#api_key_id", org.tenant.api_key_id)
    tab.fill("#user_id", org.tenant.user_id)
    tab.click("#signin-submit")
    tab.wait_for_url(re.compile(re.escape(next_path) + "$"))


def go_through_the_graph(org: Org, conversation_id: str) -> list[dict[str, Any]]:
    """welcome → clarify → triage (decision: first exit) → plan, in one turn."""
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})  # welcome → clarify
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})  # clarify → triage
    return org.say(conversation_id, "I want to run three times a week.")


def test_sign_in_switch_organization_and_sign_out(page: Any, server: ConsoleServer, org: Org) -> None:
    page.goto("/")  # GET / redirects to the console, which sends an anonymous visitor to sign in
    page.wait_for_url(re.compile(r"/console/signin\?next=%2Fconsole"))
    page.fill("#org_id", org.tenant.org_id)
    page.fill("#api_key", "wrong-key")
    page.fill("#api_key_id", org.tenant.api_key_id)
    page.fill("#user_id", org.tenant.user_id)
    page.click("#signin-submit")
    page.wait_for_selector("#flash:not([hidden])")
    assert "Sign-in failed (401)" in page.text_content("#flash")
    shot(page, "signin")

    page.fill("#api_key", org.tenant.api_key)
    page.click("#signin-submit")
    page.wait_for_url("**/console")
    page.wait_for_selector("#services li strong")
    assert page.text_content("#org-name") == org.tenant.org_id
    assert "Tertulia demo" in page.text_content("#services")
    stored = json.loads(page.evaluate("sessionStorage.getItem('tertulia.console')"))
    assert stored["current"] == org.tenant.org_id and stored["sessions"][org.tenant.org_id]["token"]
    assert page.evaluate("document.cookie") == ""  # never a cookie
    assert page.context.cookies() == []
    shot(page, "home")

    other = Org(server)
    page.select_option("#org-select", "__new__")
    page.wait_for_url("**/console/signin")
    page.fill("#org_id", other.tenant.org_id)
    page.fill("#api_key", other.tenant.api_key)
    page.fill("#api_key_id", other.tenant.api_key_id)
    page.fill("#user_id", other.tenant.user_id)
    page.click("#signin-submit")
    page.wait_for_url("**/console")
    page.wait_for_function("() => document.querySelector('#org-name').textContent.length > 0")
    assert page.text_content("#org-name") == other.tenant.org_id
    options = page.eval_on_selector_all("#org-select option", "os => os.map(o => o.value)")
    assert set(options) == {org.tenant.org_id, other.tenant.org_id, "__new__"}
    page.select_option("#org-select", org.tenant.org_id)  # switch back
    page.wait_for_function(f"() => document.querySelector('#org-name').textContent === '{org.tenant.org_id}'")
    other.http.close()

    page.click("#signout")
    page.wait_for_url("**/console/signin")
    assert page.evaluate("sessionStorage.getItem('tertulia.console')") is None
    page.goto("/console/conversations")
    page.wait_for_url(re.compile(r"/console/signin\?next="))
    assert page.errors == []


def test_playground_streams_a_turn_with_live_actions(page: Any, org: Org) -> None:
    from tertulia.demo import load_definition

    # a text-only agent (no voice config) on the demo's context graph
    agent_id = org.http.post("/organization/agent", json={"agent_name": "Text only"}).json()["id"]
    version = {k: v for k, v in load_definition()["agent"]["version"].items() if k != "voice_config"}
    assert org.http.post(f"/organization/agent/{agent_id}/", json=version).status_code == 201
    made = org.http.post("/service/", json={
        "service_hierarchical_state_machine_id": org.graph_id, "agent_id": agent_id, "name": "Text coach",
        "description": "The demo graph, text only.", "is_active": True, "keyterms": [], "tags": {}})
    assert made.status_code == 201, made.text
    sign_in(page, org, f"/console/playground?service={made.json()['id']}")
    page.wait_for_selector(f"#service option[value='{made.json()['id']}']", state="attached")
    assert page.input_value("#service") == made.json()["id"]
    page.wait_for_selector("#version-set option[value='release']", state="attached")
    assert page.input_value("#version-set") == "release"
    page.wait_for_selector("#voice-note-hint:not([hidden])")
    assert "no voice config" in page.text_content("#voice-note-hint")
    assert not page.is_enabled("#voice-reply")  # the agent has no voice config
    page.click("#start")
    page.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
    assert page.is_disabled("#record") and page.is_enabled("#say")
    opening = page.text_content("#transcript .msg.agent .text")
    assert opening.strip()
    titles = page.eval_on_selector_all("#timeline .act .title", "xs => xs.map(x => x.textContent)")
    assert "Dynamic behavior selected" in titles and "Action selected" in titles and "Reply complete" in titles
    assert titles[-1] == "Turn complete"
    assert page.get_attribute("#conversation-link a", "href").startswith("/console/conversations/")

    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})
    org.server.runtime.llm.script_text("EngageUser", "Great goal. Which days of the week suit you best for a run?")
    page.fill("#say", "I want to run three times a week.")
    page.click("#send")
    page.wait_for_selector("#transcript .msg.agent >> nth=1 >> .text[data-complete='true']")
    reply = page.locator("#transcript .msg.agent .text").nth(1)
    assert reply.text_content() == "Great goal. Which days of the week suit you best for a run?"
    assert int(reply.get_attribute("data-pieces")) > 3  # it arrived as several streamed pieces
    assert page.locator("#transcript .msg.user").count() == 1
    assert page.locator("#transcript .msg.user").first.text_content().endswith("I want to run three times a week.")
    titles = page.eval_on_selector_all("#timeline .act .title", "xs => xs.map(x => x.textContent)")
    for transition in ("welcome → clarify", "clarify → triage", "triage → plan"):
        assert transition in titles, titles
    times = page.eval_on_selector_all("#timeline .act .t", "xs => xs.map(x => parseInt(x.textContent))")
    assert times == sorted(times)
    assert page.text_content("#turn-status").startswith("complete in")
    shot(page, "playground")

    page.click("#finish")
    page.wait_for_selector("#flash.ok")
    assert page.text_content("#turn-status") == "conversation finished"
    assert page.is_disabled("#say") and page.is_enabled("#start")
    page.click("#start")  # start another
    page.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
    assert page.locator("#transcript .msg").count() == 1
    assert page.errors == []


def test_conversation_transcript_unfolds_insights(page: Any, org: Org) -> None:
    conversation_id = org.start()
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})  # welcome → clarify
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})  # clarify → triage
    org.server.runtime.llm.script_decision("SelectNextActionForDecisionState", {"next": "exit 2"})  # triage → think
    org.say(conversation_id, "I want to get fit, somehow.")
    assert org.http.post(f"/conversation/{conversation_id}/tags/", json={"updates": {"channel": "web"}}).status_code == 204
    assert org.http.post(f"/conversation/{conversation_id}/feedback", json={"comment": "Good first plan."}).status_code == 200
    metric = org.http.post("/metric/", json={
        "name": "Plan agreed", "applied_to_services": [], "additional_notes": None, "tags": {},
        "initial_version_metric_value": {"description": "Did the user agree on a plan?", "metric_value": {"type": "boolean"}}})
    assert metric.status_code == 201, metric.text
    evaluated = org.http.post("/metric/evaluate", json={"metric_ids": [metric.json()["id"]], "conversation_id": conversation_id})
    assert evaluated.status_code == 200, evaluated.text
    sign_in(page, org, "/console/conversations")
    page.wait_for_selector(f"#rows a[href='/console/conversations/{conversation_id}']")
    def listed(**filters: str) -> int:
        for selector, value in filters.items():
            if selector == "f-finished":
                page.select_option(f"#{selector}", value)
            else:
                page.fill(f"#{selector}", value)
        with page.expect_response(re.compile(r"/conversation/\?")):
            page.click("#filters button")
        page.wait_for_selector("#rows tr")
        return page.locator(f"#rows a[href='/console/conversations/{conversation_id}']").count()

    assert listed(**{"f-finished": "true"}) == 0  # an open conversation is filtered out
    assert listed(**{"f-finished": "false", "f-tag": "channel:phone"}) == 0
    assert listed(**{"f-tag": "channel:web", "f-from": "2000-01-01", "f-to": "2999-12-31"}) == 1
    assert listed(**{"f-from": "2999-01-01"}) == 0  # dates filter the listed page by created_at
    assert listed(**{"f-from": "", "f-user": org.tenant.user_id}) == 1
    assert listed(**{"f-user": "somebody-else"}) == 0
    page.fill("#f-user", "")
    page.click("#filters button")
    page.wait_for_selector(f"#rows a[href='/console/conversations/{conversation_id}']")
    shot(page, "conversations")
    page.click(f"#rows a[href='/console/conversations/{conversation_id}']")
    page.wait_for_url(f"**/console/conversations/{conversation_id}")
    page.wait_for_selector("#transcript .msg.agent")
    assert "channel:web" in page.text_content("#tags")
    page.wait_for_selector("#feedback li")
    assert "Good first plan." in page.text_content("#feedback")
    page.wait_for_selector("#metrics .metric-result")
    assert page.text_content("#metrics .metric-result").startswith("Plan agreed v1: ")
    second = page.locator("#transcript .msg.agent").nth(1)
    second.locator("summary").click()
    second.locator(".insights .path").wait_for()
    steps = second.locator(".insights .path > li").all_text_contents()
    assert steps[0].startswith("welcome → clarify (action)")
    assert "exit: The user has mentioned something they want to do" in steps[0]
    assert steps[1].startswith("clarify → triage") and steps[2].startswith("triage → think (decision)")
    assert "exit: The goal is too big or vague" in steps[2]
    assert steps[3].startswith("think → plan (reflection)")
    assert second.locator(".current-state").text_content() == "plan"
    text = second.locator(".insights").text_content()
    assert "Dynamic behavior" in text and "none triggered" in text
    assert "Reflections" in text and second.locator(".reflection").text_content().startswith("The user is engaged")
    shot(page, "conversation")

    page.goto("/console/metrics")
    page.wait_for_selector(f".metric-chart[data-metric='{metric.json()['id']}'] circle.point")
    assert page.locator(".metric-chart h4").first.text_content() == "Plan agreed"
    assert "Plan agreed v1" in page.text_content("#results tr.result")
    shot(page, "metrics")
    assert page.errors == []


def test_graph_view_highlights_a_conversation_path(page: Any, org: Org) -> None:
    conversation_id = org.start()
    go_through_the_graph(org, conversation_id)
    sign_in(page, org, "/console/graphs")
    page.wait_for_selector(f"#rows a[href='/console/graphs/{org.graph_id}']")
    assert "Tertulia demo" in page.text_content("#rows")  # the service using it
    shot(page, "graphs")
    page.goto(f"/console/conversations/{conversation_id}")
    page.click("#graph-link")
    page.wait_for_url(re.compile(rf"/console/graphs/{org.graph_id}\?version=1&conversation={conversation_id}"))
    page.wait_for_selector("#diagram svg g.state.on-path")
    on_path = page.eval_on_selector_all("#diagram g.state.on-path", "xs => xs.map(x => x.dataset.state)")
    assert set(on_path) == {"welcome", "clarify", "triage", "plan"}
    kinds = page.eval_on_selector_all("#diagram g.state", "xs => xs.map(x => x.getAttribute('class'))")
    assert any("state-decision" in k for k in kinds) and any("state-reflection" in k for k in kinds)
    edges = page.eval_on_selector_all("#diagram g.exit.on-path", "xs => xs.map(x => x.dataset.from + '>' + x.dataset.to)")
    assert set(edges) == {"welcome>clarify", "clarify>triage", "triage>plan"}
    labels = page.eval_on_selector_all("#diagram g.exit text.label", "xs => xs.map(x => x.textContent)")
    assert any(label.startswith("The goal is small") for label in labels)
    assert page.text_content("#path-summary") == "path: welcome → clarify → triage → plan"
    assert page.locator("#states details").count() == 6
    shot(page, "graph")
    assert page.errors == []


def test_agents_and_dynamic_behaviors_are_readable_with_their_versions(page: Any, org: Org) -> None:
    sign_in(page, org, "/console/agents")
    agent = page.locator("#agents details").first
    agent.wait_for()
    assert agent.locator("summary").text_content().startswith("Nia")
    agent.locator("summary").click()
    agent.locator(".version h4").wait_for()
    assert agent.locator(".version h4").text_content().startswith("v1 · Nia")
    behavior = page.locator("#behaviors details").first
    assert behavior.locator("summary").text_content().startswith("Safety - self-harm or medical emergency")
    behavior.locator("summary").click()
    behavior.locator(".version pre").wait_for()
    assert '"type": "inject-instruction"' in behavior.locator(".version pre").text_content()
    shot(page, "agents")
    assert page.errors == []


def test_agent_markup_is_shown_as_text(page: Any, org: Org) -> None:
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold</b>'
    org.server.runtime.llm.script_text("EngageUser", hostile)
    sign_in(page, org, "/console/playground")
    page.wait_for_selector(f"#service option[value='{org.service_id}']", state="attached")
    page.click("#start")
    page.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
    assert page.text_content("#transcript .msg.agent .text") == hostile
    assert page.locator("#transcript script, #transcript img, #transcript b").count() == 0
    href = page.get_attribute("#conversation-link a", "href")
    page.goto(href)
    page.wait_for_selector("#transcript .msg.agent .text")
    assert page.text_content("#transcript .msg.agent .text") == hostile
    assert page.locator("#transcript script, #transcript img, #transcript b").count() == 0
    assert page.evaluate("window.__pwned") is None
    shot(page, "escaping")
    response = page.request.get("/console/playground")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert page.errors == []


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


def test_pages_fit_a_phone_screen(browser: Any, server: ConsoleServer, org: Org) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server.base_url,
                                  is_mobile=True, has_touch=True)
    tab = context.new_page()
    try:
        sign_in(tab, org, "/console/playground")
        tab.wait_for_selector(f"#service option[value='{org.service_id}']", state="attached")
        tab.click("#start")
        tab.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
        for path in ("/console/playground", "/console/conversations", f"/console/graphs/{org.graph_id}",
                     "/console/operations"):
            if path != "/console/playground":
                tab.goto(path)
                tab.wait_for_load_state("networkidle")
            width = tab.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide on a 390px screen"
            shot(tab, "phone-" + path.split("/")[2])  # phone-playground, phone-conversations, phone-graphs, ...
        assert not tab.is_visible(".nav")  # the menu folds behind its toggle
        tab.click(".nav-toggle-label")
        assert tab.is_visible(".nav a[href='/console/playground']")
    finally:
        context.close()


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
    org.server.call(drain(org.server.runtime, org.tenant.org_id))

    sign_in(page, org, "/console/simulations")
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


def test_voice_note_in_and_voice_reply_out(browser: Any, server: ConsoleServer, org: Org, tmp_path) -> None:
    """Chromium's fake microphone plays a spoken WAV: the recorded note is transcribed by the server's speech-to-text,
    and an agent with a voice config answers with audio the page plays."""
    from tertulia.demo import load_definition
    from tertulia.speech.audio import encode_wav
    from tests.support.speech import spoken

    version = {**load_definition()["agent"]["version"], "voice_config": {"voice_id": "joe"}}
    assert org.http.post(f"/organization/agent/{org.agent_id}/", json=version).status_code == 201
    note = tmp_path / "note.wav"
    note.write_bytes(encode_wav(spoken("I would like to book a table for two people.")))
    org.server.runtime.llm.script_text("EngageUser", "Hello. I am Nia. What would you like to get done this week?")

    # a browser of its own: the fake microphone is a launch option
    chromium = browser.browser_type.launch(executable_path=chromium_path(), args=[
        *CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={note}", "--autoplay-policy=no-user-gesture-required"])
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, base_url=server.base_url)
    context.grant_permissions(["microphone"], origin=server.base_url)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(tab, org, "/console/playground")
        tab.wait_for_selector("#voice-note-hint:not([hidden])")
        assert "speaks with voice joe" in tab.text_content("#voice-note-hint")
        tab.check("#voice-reply")
        tab.click("#start")
        tab.wait_for_selector("#transcript .msg.agent .text[data-complete='true']", timeout=60_000)
        assert tab.text_content("#transcript .msg.agent .text") == \
            "Hello. I am Nia. What would you like to get done this week?"
        tab.wait_for_function("() => Number(document.querySelector('#player').dataset.played || 0) >= 1", timeout=30_000)
        assert int(tab.get_attribute("#player", "data-queued")) >= 2  # one audio piece per spoken sentence

        tab.click("#record")
        tab.wait_for_function("() => document.querySelector('#record').textContent === 'Stop and send'")
        tab.wait_for_timeout(3500)  # the fake microphone loops the spoken sentence
        tab.click("#record")
        tab.wait_for_selector("#transcript .msg.user", timeout=60_000)
        heard = tab.text_content("#transcript .msg.user .text").lower()
        assert "table for two" in heard, heard
        tab.wait_for_selector("#timeline .act[data-type='user-message-available'] .detail")
        assert tab.text_content("#timeline .act[data-type='user-message-available'] .detail") == \
            "voice note transcribed"
        tab.wait_for_selector("#transcript .msg.agent >> nth=1 >> .text[data-complete='true']", timeout=60_000)
        shot(tab, "playground-voice")
        assert errors == []
    finally:
        context.close()
        chromium.close()


def test_tool_calls_show_their_inputs_and_outputs(page: Any, org: Org) -> None:
    """A tool-call state with a (fake) tool at the tools port: its call, inputs and output in the turn's insights and
    in the live timeline, and the state drawn as a tool call."""
    from tertulia.demo import load_definition
    from tertulia.engine.fakes import FakeTools

    tool_id = "b" * 24
    tools = FakeTools()
    tools.add(tool_id, '{"free_slots": ["Monday 7:00", "Thursday 7:00"]}', name="calendar",
              input_schema={"type": "object", "properties": {"week": {"type": "string"}}})
    spec = {"tool_id": tool_id, "version_constraint": ">=1.0,<2", "additional_instruction": "Look up free slots."}
    action = {"type": "action", "objective": "Talk.", "actions": ["Chat."], "exit_conditions": []}
    body = {
        "description": "Looks a calendar up.", "references": {},
        "states": [
            {**action, "name": "ask", "exit_conditions": [{"description": "The user wants a slot.", "next_state": "lookup"}]},
            {"type": "tool-call", "name": "lookup", "next_state": "offer", "designated_tool": spec,
             "designated_tool_call_objective": "Find free slots.", "designated_tool_call_context": "The user's week."},
            {**action, "name": "offer", "objective": "Offer the free slots."},
        ],
        "new_user_initial_state": "ask", "returning_user_initial_state": "ask", "terminal_state": "offer",
    }
    graph_id = org.http.post(GRAPHS, json={"state_machine_name": "Calendar"}).json()["id"]
    made = org.http.post(f"{GRAPHS}/{graph_id}/", json=body)
    assert made.status_code == 201, made.text
    agent_id = org.http.post("/organization/agent", json={"agent_name": "Scheduler"}).json()["id"]
    assert org.http.post(f"/organization/agent/{agent_id}/", json=load_definition()["agent"]["version"]).status_code == 201
    service = org.http.post("/service/", json={"service_hierarchical_state_machine_id": graph_id, "agent_id": agent_id,
                                               "name": "Scheduler", "description": "Books runs.", "is_active": True,
                                               "keyterms": [], "tags": {}})
    assert service.status_code == 201, service.text
    previous, org.server.runtime.tools = org.server.runtime.tools, tools
    try:
        sign_in(page, org, f"/console/playground?service={service.json()['id']}")
        page.wait_for_selector(f"#service option[value='{service.json()['id']}']", state="attached")
        page.click("#start")
        page.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
        org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})  # ask → lookup
        org.server.runtime.llm.script_decision("GenerateToolParams", {"week": "next week"})
        page.fill("#say", "When could I run next week?")
        page.click("#send")
        page.wait_for_selector("#transcript .msg.agent >> nth=1 >> .text[data-complete='true']")
        titles = page.eval_on_selector_all("#timeline .act .title", "xs => xs.map(x => x.textContent)")
        assert "ask → lookup" in titles and "lookup → offer" in titles
        assert f"Tool output {tool_id}" in titles, titles
        assert tools.invocations and tools.invocations[0][0] == tool_id
        href = page.get_attribute("#conversation-link a", "href")
    finally:
        org.server.runtime.tools = previous
    page.goto(href)
    second = page.locator("#transcript .msg.agent").nth(1)
    second.locator("summary").click()
    second.locator(".insights .designated").wait_for()
    designated = second.locator(".insights .designated").text_content()
    assert "calendar" in designated and "Monday 7:00" in designated and '"week": "next week"' in designated
    memory = second.locator(".insights ul.memory li").first.text_content()
    assert "Monday 7:00" in memory and "Output of tool calendar in state lookup" in memory
    shot(page, "tool-call-insights")
    page.goto(f"/console/graphs/{graph_id}")
    page.wait_for_selector("#diagram g.state-tool-call[data-state='lookup']")
    assert page.errors == []


def test_graph_references_link_and_highlight_across_graphs(page: Any, org: Org) -> None:
    """An exit into another graph is drawn as a reference node that links to it; a conversation that entered the
    referenced graph highlights that node and the exit into it."""
    from tertulia.demo import load_definition

    def action(name: str, exits: list) -> dict:
        return {"type": "action", "name": name, "objective": f"Objective of {name}.", "actions": [f"Do {name}."],
                "exit_conditions": exits}

    def graph(name: str, body: dict) -> str:
        graph_id = org.http.post(GRAPHS, json={"state_machine_name": name}).json()["id"]
        made = org.http.post(f"{GRAPHS}/{graph_id}/", json={"description": name, **body})
        assert made.status_code == 201, made.text
        return graph_id

    sub_id = graph("Intake", {"states": [action("greet", [{"description": "Done.", "next_state": "close"}]),
                                         action("close", [])],
                              "new_user_initial_state": "greet", "returning_user_initial_state": "greet",
                              "terminal_state": "close"})
    main_id = graph("Front desk", {
        "states": [action("start", [{"description": "Needs an intake.", "next_state": ["intake.greet", "after"]}]),
                   action("after", [])],
        "references": {"intake": [sub_id, 1]},
        "new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "after"})
    agent_id = org.http.post("/organization/agent", json={"agent_name": "Desk"}).json()["id"]
    assert org.http.post(f"/organization/agent/{agent_id}/", json=load_definition()["agent"]["version"]).status_code == 201
    service = org.http.post("/service/", json={"service_hierarchical_state_machine_id": main_id, "agent_id": agent_id,
                                               "name": "Desk", "description": "Front desk.", "is_active": True,
                                               "keyterms": [], "tags": {}})
    assert service.status_code == 201, service.text
    events = org.events(org.http.post("/conversation/", params={"response_format": "text"},
                                      json={"service_id": service.json()["id"]}))
    conversation_id = events[0]["conversation_id"]
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})  # start → intake.greet
    org.say(conversation_id, "I am new here.")

    sign_in(page, org, f"/console/graphs/{main_id}?version=1&conversation={conversation_id}")
    page.wait_for_selector("#diagram g.state.on-path[data-state='ref:intake.greet']")
    assert page.get_attribute("#diagram g.state-reference", "data-ref-graph") == sub_id
    edges = page.eval_on_selector_all("#diagram g.exit.on-path", "xs => xs.map(x => x.dataset.from + '>' + x.dataset.to)")
    assert edges == ["start>ref:intake.greet"]
    assert page.locator("#diagram g.exit-return[data-to='after']").count() == 1
    assert page.text_content("#path-summary") == "path: start → greet"
    shot(page, "graph-reference")
    page.click("#diagram g.state-reference a")
    page.wait_for_url(re.compile(rf"/console/graphs/{sub_id}\?version=1$"))
    page.wait_for_selector("#diagram g.state[data-state='greet']")
    assert page.text_content("#graph-name") == "Intake"
    assert page.errors == []
