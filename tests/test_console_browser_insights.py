"""The web console in a real browser, debugging views: a conversation's transcript with each turn's insights (state
path, exits, reflections, tool calls, working memory; tags, feedback, metric results) and the conversation filters;
the context graph diagram with a conversation's path, references to other graphs; agents and behaviors; metrics."""

from __future__ import annotations

import re
from typing import Any

from tests.support.browser import (  # noqa: F401  (fixtures: browser, org, page, server)
    GRAPHS,
    SKIP,
    Org,
    browser,
    go_through_the_graph,
    org,
    page,
    server,
    shot,
    sign_in,
)

pytestmark = SKIP
GRAPH_WIDE = {"references": {}, "global_intra_state_navigation_guidelines": [], "global_action_guidelines": [],
              "global_boundary_constraints": []}  # the spec requires the graph-wide lists


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
            if selector in ("f-finished", "f-service"):
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
    assert listed(**{"f-user": "", "f-service": org.service_id}) == 1
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
        "description": "Looks a calendar up.",
        "states": [
            {**action, "name": "ask", "exit_conditions": [{"description": "The user wants a slot.", "next_state": "lookup"}]},
            {"type": "tool-call", "name": "lookup", "next_state": "offer", "designated_tool": spec,
             "designated_tool_call_objective": "Find free slots.", "designated_tool_call_context": "The user's week."},
            {**action, "name": "offer", "objective": "Offer the free slots."},
        ],
        "new_user_initial_state": "ask", "returning_user_initial_state": "ask", "terminal_state": "offer",
        **GRAPH_WIDE,
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


def test_graph_references_link_and_highlight_across_graphs(page: Any, org: Org) -> None:
    """An exit into another graph is drawn as a reference node that links to it; a conversation that entered the
    referenced graph highlights that node and the exit into it."""
    from tertulia.demo import load_definition

    def action(name: str, exits: list) -> dict:
        return {"type": "action", "name": name, "objective": f"Objective of {name}.", "actions": [f"Do {name}."],
                "exit_conditions": exits}

    def graph(name: str, body: dict) -> str:
        graph_id = org.http.post(GRAPHS, json={"state_machine_name": name}).json()["id"]
        made = org.http.post(f"{GRAPHS}/{graph_id}/", json={"description": name, **GRAPH_WIDE, **body})
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
