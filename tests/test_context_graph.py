"""Context graphs (service hierarchical state machines) over HTTP, and through the official SDK."""

from __future__ import annotations

import copy

from amigo_sdk.errors import ConflictError
from amigo_sdk.generated.model import (
    GetServiceHierarchicalStateMachineVersionsParametersQuery,
    OrganizationCreateServiceHierarchicalStateMachineRequest,
    OrganizationCreateServiceHierarchicalStateMachineVersionRequest,
)

from tests.support.sdk import sdk_client

BASE = "/organization/service_hierarchical_state_machine"
TOOL = {
    "tool_id": "b" * 24,
    "version_constraint": ">=1.0,<2",
    "additional_instruction": "Look the order up.",
    "audio_fillers": ["One moment."],
    "audio_filler_triggered_after": 2.0,
    "result_persistence": "ephemeral",
}


def action(name: str, exits: list | None = None, actions: list | None = None) -> dict:
    return {
        "type": "action",
        "name": name,
        "objective": f"Objective of {name}.",
        "actions": actions or [f"Do {name}."],
        "intra_state_navigation_guidelines": [],
        "action_guidelines": ["Be kind."],
        "boundary_constraints": [],
        "exit_conditions": exits or [],
        "action_tool_call_specs": [TOOL],
        "exit_condition_tool_call_specs": [],
        "skip_active_memory_retrieval": False,
    }


def graph(**overrides) -> dict:
    body = {
        "description": "A small graph.",
        "states": [
            action("greet", [{"description": "Greeted.", "next_state": "route"}]),
            {
                "type": "decision",
                "name": "route",
                "objective": "Route the user.",
                "exit_conditions": [
                    {"description": "Wants to think.", "next_state": "think"},
                    {"description": "Done.", "next_state": "bye"},
                ],
                "decision_guidelines": ["Pick the closest."],
                "tool_call_specs": [],
                "audio_fillers": [],
                "audio_filler_triggered_after": 3.0,
            },
            {
                "type": "reflection",
                "name": "think",
                "problem": "What does the user need?",
                "word_limit": 50,
                "next_state": "recall",
                "tool_call_specs": [],
                "audio_fillers": [],
                "audio_filler_triggered_after": 3.0,
            },
            {"type": "recall", "name": "recall", "queries": ["favourite colour"], "requested_information": None,
             "next_state": "note"},
            {"type": "annotation", "name": "note", "inner_thought": "Recalled.", "next_state": "greet"},
            action("bye", actions=["Say goodbye."]),
        ],
        "new_user_initial_state": "greet",
        "returning_user_initial_state": "greet",
        "terminal_state": "bye",
        "references": {},
        "global_intra_state_navigation_guidelines": ["Stay on topic."],
        "global_action_guidelines": [],
        "global_boundary_constraints": ["No medical advice."],
    }
    body.update(overrides)
    return copy.deepcopy(body)


async def _new_graph(client, tenant, name: str) -> str:
    r = await client.post(tenant.url(BASE), json={"state_machine_name": name}, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_graph_lifecycle(client, tenant):
    h = tenant.headers
    graph_id = await _new_graph(client, tenant, "Main")
    assert (await client.post(tenant.url(BASE), json={"state_machine_name": "Main"}, headers=h)).status_code == 409

    dry = await client.post(tenant.url(f"{BASE}/{graph_id}/?dry_run=true"), json=graph(), headers=h)
    assert dry.status_code == 201 and dry.json() is None
    listed = (await client.get(tenant.url(BASE), headers=h)).json()
    assert listed["service_hierarchical_state_machines"] == [
        {"id": graph_id, "name": "Main", "deprecated": False, "latest_version": None}
    ]

    v1 = await client.post(tenant.url(f"{BASE}/{graph_id}/"), json=graph(), headers=h)
    assert v1.status_code == 201 and v1.json()["version"] == 1
    assert (await client.post(tenant.url(f"{BASE}/{graph_id}/?version=1"), json=graph(), headers=h)).status_code == 409
    # a minimal body: omitted lists/flags get their defaults, recall omits requested_information
    minimal = graph(states=[
        {"type": "action", "name": "hello", "objective": "Say hi.", "actions": ["Greet."],
         "exit_conditions": [{"description": "Said.", "next_state": "look"}]},
        {"type": "recall", "name": "look", "requested_information": "The user's name.", "next_state": "end"},
        {"type": "action", "name": "end", "objective": "End.", "actions": ["Close."]},
    ], new_user_initial_state="hello", returning_user_initial_state="hello", terminal_state="end")
    # the graph-wide lists and references are required, as the spec says (the SDK always sends them)
    for key in ("references", "global_action_guidelines", "global_boundary_constraints",
                "global_intra_state_navigation_guidelines"):
        r = await client.post(tenant.url(f"{BASE}/{graph_id}/?version=2"),
                              json={k: v for k, v in minimal.items() if k != key}, headers=h)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", key], r.text
    v2 = await client.post(tenant.url(f"{BASE}/{graph_id}/?version=2"), json=minimal, headers=h)
    assert v2.status_code == 201, v2.text

    got = (await client.get(tenant.url(f"{BASE}/{graph_id}/version?version=1"), headers=h)).json()
    [v] = got["state_machine_versions"]
    assert v["version"] == 1 and v["service_hierarchical_state_machine_id"] == graph_id and v["org_id"] == tenant.org_id
    assert v["creator"] == {"org_id": tenant.org_id, "user_id": tenant.user_id}
    assert v["states"] == graph()["states"]  # stored as given: globals are not merged into states
    assert v["global_boundary_constraints"] == ["No medical advice."]
    latest = (await client.get(tenant.url(f"{BASE}/{graph_id}/version?version=latest"), headers=h)).json()
    [v2_doc] = latest["state_machine_versions"]
    hello = v2_doc["states"][0]
    assert hello["action_guidelines"] == [] and hello["skip_active_memory_retrieval"] is False
    assert hello["action_tool_call_specs"] == [] and v2_doc["references"] == {}
    assert v2_doc["states"][1]["queries"] is None
    ranged = (await client.get(tenant.url(f"{BASE}/{graph_id}/version?version=1-latest&sort_by=%2Bversion"), headers=h)).json()
    assert [x["version"] for x in ranged["state_machine_versions"]] == [1, 2]
    paged = (await client.get(tenant.url(f"{BASE}/{graph_id}/version?limit=1"), headers=h)).json()
    assert [x["version"] for x in paged["state_machine_versions"]] == [2]
    assert paged["has_more"] is True and paged["continuation_token"] == 1
    assert (await client.get(tenant.url(f"{BASE}/{graph_id}/version?version=x"), headers=h)).status_code == 422

    assert (await client.delete(tenant.url(f"{BASE}/{graph_id}/"), headers=h)).status_code == 200
    assert (await client.delete(tenant.url(f"{BASE}/{graph_id}/"), headers=h)).status_code == 409
    assert (await client.get(tenant.url(f"{BASE}?deprecated=true"), headers=h)).json()[
        "service_hierarchical_state_machines"][0]["deprecated"] is True
    # the name is free again once deprecated
    assert (await client.post(tenant.url(BASE), json={"state_machine_name": "Main"}, headers=h)).status_code == 201


async def test_graph_validation(client, tenant):
    h = tenant.headers
    graph_id = await _new_graph(client, tenant, "Checked")
    url = tenant.url(f"{BASE}/{graph_id}/")
    bad_bodies = []

    b = graph()
    b["states"][0]["exit_conditions"][0]["next_state"] = "nowhere"
    bad_bodies.append(b)
    b = graph()
    b["states"][0]["exit_conditions"][0]["next_state"] = "greet"  # itself
    bad_bodies.append(b)
    b = graph()
    b["states"].append(action("greet"))  # duplicate name
    bad_bodies.append(b)
    bad_bodies.append(graph(new_user_initial_state="route"))  # decision, not action
    bad_bodies.append(graph(returning_user_initial_state="ghost"))
    b = graph()
    b["states"][-1]["actions"] = ["One.", "Two."]  # terminal with two actions
    bad_bodies.append(b)
    b = graph()
    b["states"][-1]["exit_conditions"] = [{"description": "x", "next_state": "greet"}]
    bad_bodies.append(b)
    b = graph()
    b["states"][3]["requested_information"] = "Both given."
    bad_bodies.append(b)
    b = graph()
    b["states"][3]["queries"] = None  # neither given
    bad_bodies.append(b)
    b = graph()
    b["states"][2]["word_limit"] = 0
    bad_bodies.append(b)
    b = graph()
    b["states"][0]["actions"] = []
    bad_bodies.append(b)
    b = graph()
    b["states"][0]["name"] = "has space"
    bad_bodies.append(b)
    b = graph()
    b["states"][0]["exit_conditions"][0]["next_state"] = ["missing.state", "greet"]  # undeclared reference
    bad_bodies.append(b)
    b = graph()
    b["states"][0]["action_tool_call_specs"][0]["version_constraint"] = "not a version"
    bad_bodies.append(b)
    for i, body in enumerate(bad_bodies):
        r = await client.post(url, json=body, headers=h)
        assert r.status_code == 422, (i, r.text)
        assert r.json()["detail"]
    head = (await client.get(tenant.url(f"{BASE}?id={graph_id}"), headers=h)).json()
    assert head["service_hierarchical_state_machines"][0]["latest_version"] is None  # nothing changed


async def test_graph_references(client, tenant):
    h = tenant.headers
    sub_id = await _new_graph(client, tenant, "Sub")
    main_id = await _new_graph(client, tenant, "Uses sub")
    ref_graph = copy.deepcopy(graph(references={"sub": [sub_id, 1]}))
    ref_graph["states"][0]["exit_conditions"][0]["next_state"] = ["sub.greet", "route"]
    # the referenced version does not exist yet
    r = await client.post(tenant.url(f"{BASE}/{main_id}/"), json=ref_graph, headers=h)
    assert r.status_code == 400, r.text
    assert (await client.post(tenant.url(f"{BASE}/{sub_id}/"), json=graph(), headers=h)).status_code == 201
    wrong_state = copy.deepcopy(ref_graph)
    wrong_state["states"][0]["exit_conditions"][0]["next_state"] = ["sub.ghost", "route"]
    assert (await client.post(tenant.url(f"{BASE}/{main_id}/"), json=wrong_state, headers=h)).status_code == 422
    bad_jumpback = copy.deepcopy(ref_graph)
    bad_jumpback["states"][0]["exit_conditions"][0]["next_state"] = ["sub.greet", "ghost"]
    assert (await client.post(tenant.url(f"{BASE}/{main_id}/"), json=bad_jumpback, headers=h)).status_code == 422
    ok = await client.post(tenant.url(f"{BASE}/{main_id}/"), json=ref_graph, headers=h)
    assert ok.status_code == 201, ok.text
    doc = (await client.get(tenant.url(f"{BASE}/{main_id}/version"), headers=h)).json()["state_machine_versions"][0]
    assert doc["references"] == {"sub": [sub_id, 1]}
    assert doc["states"][0]["exit_conditions"][0]["next_state"] == ["sub.greet", "route"]
    # deprecated references are refused
    assert (await client.delete(tenant.url(f"{BASE}/{sub_id}/"), headers=h)).status_code == 200
    r = await client.post(tenant.url(f"{BASE}/{main_id}/"), json=ref_graph, headers=h)
    assert r.status_code == 400 and "deprecated" in r.json()["detail"]


async def test_graph_not_found_and_cross_org(client, tenant, other_tenant):
    h = tenant.headers
    graph_id = await _new_graph(client, tenant, "Private")
    missing = "c" * 24
    assert (await client.post(tenant.url(f"{BASE}/{missing}/"), json=graph(), headers=h)).status_code == 404
    assert (await client.get(tenant.url(f"{BASE}/{missing}/version"), headers=h)).status_code == 404
    assert (await client.delete(tenant.url(f"{BASE}/{missing}/"), headers=h)).status_code == 404
    assert (await client.delete(tenant.url(f"{BASE}/not-an-id/"), headers=h)).status_code == 422
    oh = other_tenant.headers
    assert (await client.post(other_tenant.url(f"{BASE}/{graph_id}/"), json=graph(), headers=oh)).status_code == 404
    assert (await client.get(other_tenant.url(f"{BASE}/{graph_id}/version"), headers=oh)).status_code == 404
    assert (await client.delete(other_tenant.url(f"{BASE}/{graph_id}/"), headers=oh)).status_code == 404
    assert (await client.get(other_tenant.url(BASE), headers=oh)).json()["service_hierarchical_state_machines"] == []


def test_graph_through_sdk(live_server, sdk_tenant):
    with sdk_client(live_server.base_url, sdk_tenant) as amigo:
        created = amigo.context_graphs.create_context_graph(
            OrganizationCreateServiceHierarchicalStateMachineRequest(state_machine_name="Sdk graph")
        )
        body = OrganizationCreateServiceHierarchicalStateMachineVersionRequest.model_validate(graph())
        made = amigo.context_graphs.create_context_graph_version(created.id, body)
        assert made.version == 1
        versions = amigo.context_graphs.get_context_graph_versions(
            created.id, GetServiceHierarchicalStateMachineVersionsParametersQuery(version="latest")
        )
        [v] = versions.state_machine_versions
        assert v.version == 1 and v.terminal_state == "bye" and len(v.states) == 6
        listed = amigo.context_graphs.get_context_graphs()
        assert [g.id for g in listed.service_hierarchical_state_machines] == [created.id]
        try:
            amigo.context_graphs.create_context_graph(
                OrganizationCreateServiceHierarchicalStateMachineRequest(state_machine_name="Sdk graph")
            )
            raise AssertionError("duplicate name accepted")
        except ConflictError:
            pass
        amigo.context_graphs.delete_context_graph(created.id)
        try:
            amigo.context_graphs.delete_context_graph(created.id)
            raise AssertionError("double delete accepted")
        except ConflictError:
            pass
