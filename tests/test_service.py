"""Services and version sets: resolution for conversations, HTTP, and the official SDK."""

from __future__ import annotations

import pytest
from amigo_sdk.errors import BadRequestError, ConflictError, NotFoundError
from amigo_sdk.generated.model import (
    GetServicesParametersQuery,
    ServiceCreateServiceRequest,
    ServiceUpdateServiceRequest,
    ServiceUpsertServiceVersionSetRequest,
)

from tertulia.agent.models import Agent, AgentVersion
from tertulia.context_graph.models import StateMachine, StateMachineVersion
from tertulia.core.errors import BadRequest, NotFound
from tertulia.dynamic_behavior_set.models import DynamicBehaviorSet, DynamicBehaviorSetVersion
from tertulia.service.models import Service
from tertulia.service.resolution import resolve_version_set
from tertulia.service.usage import ensure_not_used_by_active_service
from tests.support.sdk import sdk_client
from tests.test_agent import VERSION as AGENT_VERSION
from tests.test_context_graph import graph as graph_version

CREATOR = {"org_id": "x", "user_id": "u"}


def _graph_body(references: dict | None = None) -> dict:
    return {
        "description": "g",
        "states": [],
        "new_user_initial_state": "start",
        "returning_user_initial_state": "start",
        "terminal_state": "end",
        "references": references or {},
        "global_intra_state_navigation_guidelines": [],
        "global_action_guidelines": [],
        "global_boundary_constraints": [],
    }


async def _seed_resolution(session, org_id: str) -> dict:
    agent = Agent(org_id=org_id, name="A", latest_version=2, creator=CREATOR)
    empty_agent = Agent(org_id=org_id, name="Empty", creator=CREATOR)
    inner = StateMachine(org_id=org_id, name="inner", latest_version=1, creator=CREATOR)
    sub = StateMachine(org_id=org_id, name="sub", latest_version=1, creator=CREATOR)
    main = StateMachine(org_id=org_id, name="main", latest_version=2, creator=CREATOR)
    session.add_all([agent, empty_agent, inner, sub, main])
    await session.flush()
    session.add_all(
        [
            AgentVersion(org_id=org_id, agent_id=agent.id, version=1, body={"background": "v1"}, creator=CREATOR),
            AgentVersion(org_id=org_id, agent_id=agent.id, version=2, body={"background": "v2"}, creator=CREATOR),
            StateMachineVersion(org_id=org_id, state_machine_id=inner.id, version=1, body=_graph_body(), creator=CREATOR),
            StateMachineVersion(org_id=org_id, state_machine_id=sub.id, version=1,
                                body=_graph_body({"deep": [inner.id, 1]}), creator=CREATOR),
            StateMachineVersion(org_id=org_id, state_machine_id=main.id, version=1, body=_graph_body(), creator=CREATOR),
            StateMachineVersion(org_id=org_id, state_machine_id=main.id, version=2,
                                body=_graph_body({"helper": [sub.id, 1]}), creator=CREATOR),
        ]
    )
    prefs = {"EngageUser": {"llm_name": "openai_gpt-5.4-mini-2026-03-17", "params": {}}}
    version_sets = {
        "edge": {"agent_version_number": None, "service_hierarchical_state_machine_version_number": None,
                 "llm_model_preferences": {}},
        "release": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
                    "llm_model_preferences": prefs},
        "broken": {"agent_version_number": 9, "service_hierarchical_state_machine_version_number": None,
                   "llm_model_preferences": {}},
    }
    service = Service(org_id=org_id, name="S", agent_id=agent.id, service_hierarchical_state_machine_id=main.id,
                      version_sets=version_sets, creator=CREATOR, updated_by=CREATOR)
    inactive = Service(org_id=org_id, name="Off", is_active=False, agent_id=agent.id,
                       service_hierarchical_state_machine_id=main.id, version_sets=version_sets,
                       creator=CREATOR, updated_by=CREATOR)
    no_agent_version = Service(org_id=org_id, name="NoVersion", agent_id=empty_agent.id,
                               service_hierarchical_state_machine_id=main.id, version_sets=version_sets,
                               creator=CREATOR, updated_by=CREATOR)
    session.add_all([service, inactive, no_agent_version])
    await session.flush()
    on = DynamicBehaviorSet(org_id=org_id, name="on", is_active=True, applied_to_services=[service.id],
                            latest_version=2, creator=CREATOR, updated_by=CREATOR)
    off = DynamicBehaviorSet(org_id=org_id, name="off", is_active=False, applied_to_services=[service.id],
                             latest_version=1, creator=CREATOR, updated_by=CREATOR)
    elsewhere = DynamicBehaviorSet(org_id=org_id, name="elsewhere", is_active=True, applied_to_services=[inactive.id],
                                   latest_version=1, creator=CREATOR, updated_by=CREATOR)
    session.add_all([on, off, elsewhere])
    await session.flush()
    action = {"type": "inject-instruction", "instruction": "Be brief.", "overrides_instructions": False}
    for s, v in ((on, 1), (on, 2), (off, 1), (elsewhere, 1)):
        session.add(DynamicBehaviorSetVersion(org_id=org_id, dynamic_behavior_set_id=s.id, version=v,
                                              conversation_triggers=[f"{s.name} v{v}"], actions=[action],
                                              creator=CREATOR))
    await session.commit()
    return {"agent": agent.id, "main": main.id, "sub": sub.id, "inner": inner.id, "service": service.id,
            "inactive": inactive.id, "no_agent_version": no_agent_version.id, "on": on.id, "prefs": prefs}


async def test_resolve_version_set(runtime, tenant, other_tenant):
    org = tenant.org_id
    async with runtime.db.sessions() as session:
        ids = await _seed_resolution(session, org)

        edge = await resolve_version_set(session, org, ids["service"], "edge")
        assert edge.agent == {"background": "v2"} and edge.agent_version == 2
        assert (edge.graph.graph_id, edge.graph.version) == (ids["main"], 2)
        assert set(edge.referenced_graphs) == {"helper", "helper.deep"}
        assert edge.referenced_graphs["helper"].graph_id == ids["sub"]
        assert edge.referenced_graphs["helper.deep"].graph_id == ids["inner"]
        assert set(edge.graphs) == {(ids["main"], 2), (ids["sub"], 1), (ids["inner"], 1)}
        assert edge.version_set_info == {
            "name": "edge",
            "agent_version_info": [ids["agent"], 2],
            "service_hierarchical_state_machine_version_info": [ids["main"], 2],
            "llm_model_preferences": {},
        }
        assert [(b.set_id, b.version, b.conversation_triggers) for b in edge.behaviors] == [(ids["on"], 2, ["on v2"])]

        release = await resolve_version_set(session, org, ids["service"], "release")
        assert release.agent == {"background": "v1"} and release.graph.version == 1
        assert release.referenced_graphs == {}
        assert release.llm_model_preferences == ids["prefs"]
        assert release.version_set_info["llm_model_preferences"] == ids["prefs"]

        with pytest.raises(NotFound):
            await resolve_version_set(session, org, "a" * 24, "edge")
        with pytest.raises(NotFound):  # another organization's service
            await resolve_version_set(session, other_tenant.org_id, ids["service"], "edge")
        with pytest.raises(BadRequest, match="not active"):
            await resolve_version_set(session, org, ids["inactive"], "edge")
        with pytest.raises(NotFound, match="no version set"):  # seed 003: not found, not a bad request
            await resolve_version_set(session, org, ids["service"], "nope")
        with pytest.raises(BadRequest, match="no version 9"):
            await resolve_version_set(session, org, ids["service"], "broken")
        with pytest.raises(BadRequest, match="no version yet"):
            await resolve_version_set(session, org, ids["no_agent_version"], "edge")

        with pytest.raises(BadRequest, match="active service"):
            await ensure_not_used_by_active_service(session, org, agent_id=ids["agent"])
        with pytest.raises(BadRequest, match="active service"):
            await ensure_not_used_by_active_service(session, org, state_machine_id=ids["main"])
        await ensure_not_used_by_active_service(session, org, state_machine_id=ids["sub"])
        await ensure_not_used_by_active_service(session, other_tenant.org_id, agent_id=ids["agent"])


# --- HTTP ------------------------------------------------------------------------------------------------------

GRAPHS = "/organization/service_hierarchical_state_machine"


async def make_agent(client, tenant, name: str, versions: int = 1) -> str:
    r = await client.post(tenant.url("/organization/agent"), json={"agent_name": name}, headers=tenant.headers)
    agent_id = r.json()["id"]
    for _ in range(versions):
        r = await client.post(tenant.url(f"/organization/agent/{agent_id}/"), json=AGENT_VERSION, headers=tenant.headers)
        assert r.status_code == 201, r.text
    return agent_id


async def make_graph(client, tenant, name: str, versions: int = 1) -> str:
    r = await client.post(tenant.url(GRAPHS), json={"state_machine_name": name}, headers=tenant.headers)
    graph_id = r.json()["id"]
    for _ in range(versions):
        r = await client.post(tenant.url(f"{GRAPHS}/{graph_id}/"), json=graph_version(), headers=tenant.headers)
        assert r.status_code == 201, r.text
    return graph_id


def service_body(agent_id: str, graph_id: str, **overrides) -> dict:
    body = {
        "service_hierarchical_state_machine_id": graph_id,
        "agent_id": agent_id,
        "name": "Helper",
        "description": "Helps.",
        "is_active": True,
        "keyterms": ["order status", "refund"],
        "tags": {"team": "care", "tier": None},
    }
    body.update(overrides)
    return body


async def _get(client, tenant, service_id: str) -> dict:
    r = await client.get(tenant.url(f"/service/?id={service_id}"), headers=tenant.headers)
    [s] = r.json()["services"]
    return s


async def test_service_lifecycle(client, tenant):
    h = tenant.headers
    agent_id = await make_agent(client, tenant, "Agent", versions=2)
    graph_id = await make_graph(client, tenant, "Graph", versions=2)
    r = await client.post(tenant.url("/service/"), json=service_body(agent_id, graph_id), headers=h)
    assert r.status_code == 201, r.text
    service_id = r.json()["id"]
    s = await _get(client, tenant, service_id)
    latest = {"agent_version_number": None, "service_hierarchical_state_machine_version_number": None,
              "llm_model_preferences": {}}
    assert s["version_sets"] == {"edge": latest, "release": latest}
    assert s["tags"] == [{"key": "team", "value": "care"}, {"key": "tier", "value": None}]
    assert s["keyterms"] == ["order status", "refund"] and s["is_active"] is True
    assert s["creator"] == s["updated_by"] == {"org_id": tenant.org_id, "user_id": tenant.user_id}

    # only one active service per name; an inactive twin is fine
    assert (await client.post(tenant.url("/service/"), json=service_body(agent_id, graph_id), headers=h)).status_code == 409
    twin = await client.post(tenant.url("/service/"), json=service_body(agent_id, graph_id, is_active=False), headers=h)
    assert twin.status_code == 201
    activate = await client.post(tenant.url(f"/service/{twin.json()['id']}/"), json={"is_active": True}, headers=h)
    assert activate.status_code == 409

    # version sets
    prefs = {"EngageUser": {"llm_name": "openai_gpt-5.4-mini-2026-03-17", "params": {"temperature": 0.2}},
             "SelectNextAction": {"llm_name": "local-smollm2"}}
    vs = {"version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 2,
                          "llm_model_preferences": prefs}}
    url = tenant.url(f"/service/{service_id}/version_sets/")
    put = await client.put(url + "canary/", json=vs, headers=h)
    assert put.status_code == 204 and put.content == b""
    release = {"agent_version_number": 2, "service_hierarchical_state_machine_version_number": None,
               "llm_model_preferences": {}}
    assert (await client.put(url + "release/", json={"version_set": release}, headers=h)).status_code == 204
    # the spec's VersionSet-Input requires llm_model_preferences; an absent version number is null (the SDK drops
    # None values), and an absent llm_model_preferences is refused
    r = await client.put(url + "release/", json={"version_set": {"agent_version_number": 2}}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "version_set", "llm_model_preferences"]
    r = await client.put(url + "release/", json={"version_set": {"agent_version_number": 2, "llm_model_preferences": {}}},
                         headers=h)
    assert r.status_code == 204
    s = await _get(client, tenant, service_id)
    assert s["version_sets"]["canary"]["llm_model_preferences"]["SelectNextAction"] == {"llm_name": "local-smollm2", "params": {}}
    assert s["version_sets"]["canary"]["agent_version_number"] == 1
    assert s["version_sets"]["release"]["agent_version_number"] == 2
    assert (await client.put(url + "edge/", json=vs, headers=h)).status_code == 400
    wrong = {"version_set": {"agent_version_number": 7, "service_hierarchical_state_machine_version_number": None,
                             "llm_model_preferences": {}}}
    assert (await client.put(url + "canary/", json=wrong, headers=h)).status_code == 400
    wrong_graph = {"version_set": {"agent_version_number": None, "service_hierarchical_state_machine_version_number": 3,
                                   "llm_model_preferences": {}}}
    assert (await client.put(url + "canary/", json=wrong_graph, headers=h)).status_code == 400
    assert (await client.put(url + "bad%20name/", json=vs, headers=h)).status_code == 422
    assert (await client.put(url + ("x" * 41) + "/", json=vs, headers=h)).status_code == 422
    assert (await _get(client, tenant, service_id))["version_sets"]["canary"]["agent_version_number"] == 1  # unchanged

    assert (await client.delete(url + "release/", headers=h)).status_code == 400
    assert (await client.delete(url + "edge/", headers=h)).status_code == 400
    assert (await client.delete(url + "nope/", headers=h)).status_code == 404
    assert (await client.delete(url + "canary/", headers=h)).status_code == 204
    assert set((await _get(client, tenant, service_id))["version_sets"]) == {"edge", "release"}

    # update
    other_agent = await make_agent(client, tenant, "Other agent")
    up = await client.post(tenant.url(f"/service/{service_id}/"), json={
        "name": "Helper 2", "description": "Helps more.", "tags": {"team": "sales"}, "keyterms": ["billing"],
        "agent_id": other_agent}, headers=h)
    assert up.status_code == 200 and up.json() == {}
    s = await _get(client, tenant, service_id)
    assert (s["name"], s["description"], s["agent_id"], s["keyterms"]) == ("Helper 2", "Helps more.", other_agent, ["billing"])
    assert s["tags"] == [{"key": "team", "value": "sales"}]
    assert s["version_sets"]["release"]["agent_version_number"] is None  # pin reset with the agent switch
    assert (await client.post(tenant.url(f"/service/{service_id}/"), json={"is_active": False}, headers=h)).status_code == 200
    assert (await _get(client, tenant, service_id))["is_active"] is False


async def test_service_create_errors(client, tenant, other_tenant):
    h = tenant.headers
    agent_id = await make_agent(client, tenant, "Agent")
    graph_id = await make_graph(client, tenant, "Graph")
    empty_agent = await make_agent(client, tenant, "Empty", versions=0)
    empty_graph = await make_graph(client, tenant, "Empty graph", versions=0)
    missing = "d" * 24
    cases = [
        (service_body(missing, graph_id), 404),
        (service_body(agent_id, missing), 404),
        (service_body(empty_agent, graph_id), 400),
        (service_body(agent_id, empty_graph), 400),
        (service_body(agent_id, graph_id, release_version_set={"agent_version_number": 5,
                      "service_hierarchical_state_machine_version_number": None, "llm_model_preferences": {}}), 400),
        (service_body(agent_id, graph_id, keyterms=["Capitalised"]), 422),
        (service_body(agent_id, graph_id, keyterms=["one two three four"]), 422),
        (service_body(agent_id, graph_id, tags={"bad-key!": "x"}), 422),
        (service_body(agent_id, graph_id, description=" "), 422),
        (service_body("not-an-id", graph_id), 422),
    ]
    for body, status in cases:
        r = await client.post(tenant.url("/service/"), json=body, headers=h)
        assert r.status_code == status, (body, r.text)
    assert (await client.get(tenant.url("/service/"), headers=h)).json()["services"] == []  # nothing was created

    pinned = await client.post(tenant.url("/service/"), json=service_body(agent_id, graph_id, release_version_set={
        "agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
        "llm_model_preferences": {"EngageUser": {"llm_name": "google_gemini-3.5-flash", "params": {}}}}), headers=h)
    assert pinned.status_code == 201
    s = await _get(client, tenant, pinned.json()["id"])
    assert s["version_sets"]["release"]["agent_version_number"] == 1
    assert s["version_sets"]["edge"]["agent_version_number"] is None

    # deprecated agent / graph are refused; the used ones cannot be deleted while the service is active
    assert (await client.delete(tenant.url(f"/organization/agent/{agent_id}/"), headers=h)).status_code == 400
    assert (await client.delete(tenant.url(f"{GRAPHS}/{graph_id}/"), headers=h)).status_code == 400
    spare = await make_agent(client, tenant, "Spare")
    assert (await client.delete(tenant.url(f"/organization/agent/{spare}/"), headers=h)).status_code == 200
    assert (await client.post(tenant.url("/service/"), json=service_body(spare, graph_id, name="X"), headers=h)).status_code == 400
    up = await client.post(tenant.url(f"/service/{pinned.json()['id']}/"), json={"agent_id": spare}, headers=h)
    assert up.status_code == 400

    # another organization sees nothing and cannot touch it
    sid = pinned.json()["id"]
    oh = other_tenant.headers
    assert (await client.post(other_tenant.url(f"/service/{sid}/"), json={"name": "x"}, headers=oh)).status_code == 404
    vs = {"version_set": {"agent_version_number": None, "service_hierarchical_state_machine_version_number": None,
                          "llm_model_preferences": {}}}
    assert (await client.put(other_tenant.url(f"/service/{sid}/version_sets/x/"), json=vs, headers=oh)).status_code == 404
    assert (await client.delete(other_tenant.url(f"/service/{sid}/version_sets/x/"), headers=oh)).status_code == 404
    assert (await client.get(other_tenant.url(f"/service/?id={sid}"), headers=oh)).json()["services"] == []
    # another organization's agent is not found
    r = await client.post(other_tenant.url("/service/"), json=service_body(agent_id, graph_id), headers=oh)
    assert r.status_code == 404


async def test_service_list_filters(client, tenant):
    h = tenant.headers
    agent_id = await make_agent(client, tenant, "Agent")
    graph_id = await make_graph(client, tenant, "Graph")
    ids = {}
    for name, active, tags in (("b", True, {"env": "prod"}), ("a", False, {"env": "dev"}), ("c", True, {"x": None})):
        r = await client.post(tenant.url("/service/"), json=service_body(agent_id, graph_id, name=name, is_active=active,
                                                                            tags=tags), headers=h)
        ids[name] = r.json()["id"]

    async def names(query: str) -> list[str]:
        r = await client.get(tenant.url("/service/" + query), headers=h)
        assert r.status_code == 200, r.text
        return [s["name"] for s in r.json()["services"]]

    assert await names("") == ["b", "a", "c"]
    assert await names("?sort_by=%2Bname") == ["a", "b", "c"]
    assert await names("?sort_by=-is_active&sort_by=-name") == ["c", "b", "a"]
    assert await names("?is_active=false") == ["a"]
    assert await names("?tags=env:prod") == ["b"]
    assert await names("?tags=env:*") == ["b", "a"]
    assert await names("?tags=x:") == ["c"]
    assert await names(f"?id={ids['a']}&id={ids['c']}") == ["a", "c"]
    first = (await client.get(tenant.url("/service/?limit=2"), headers=h)).json()
    assert first["has_more"] is True and first["continuation_token"] == 2
    assert first["filter_values"] == {"tags": ["env:dev", "env:prod", "x:"]}
    second = (await client.get(tenant.url("/service/?limit=2&continuation_token=2"), headers=h)).json()
    assert [s["name"] for s in second["services"]] == ["c"] and second["has_more"] is False
    assert second["continuation_token"] is None and second["filter_values"] is None
    assert (await client.get(tenant.url("/service/?sort_by=created_at"), headers=h)).status_code == 422
    assert (await client.get(tenant.url("/service/?limit=21"), headers=h)).status_code == 422


def test_service_through_sdk(live_server, sdk_tenant):
    import asyncio

    import httpx

    from tests.support.orgs import sign_in

    async def prepare() -> tuple[str, str]:
        async with httpx.AsyncClient(base_url=live_server.base_url) as c:
            sdk_tenant.token = await sign_in(c, sdk_tenant, sdk_tenant.user_id)
            return await make_agent(c, sdk_tenant, "Sdk agent"), await make_graph(c, sdk_tenant, "Sdk graph")

    agent_id, graph_id = asyncio.run(prepare())
    with sdk_client(live_server.base_url, sdk_tenant) as amigo:
        created = amigo.services.create_service(ServiceCreateServiceRequest.model_validate(
            service_body(agent_id, graph_id, tags={})))
        listed = amigo.services.get_services(GetServicesParametersQuery(id=[created.id]))
        [s] = listed.services
        assert set(s.version_sets) == {"edge", "release"} and s.is_active
        amigo.services.update_service(created.id, ServiceUpdateServiceRequest(description="Updated."))
        amigo.services.upsert_version_set(created.id, "pinned", ServiceUpsertServiceVersionSetRequest.model_validate(
            {"version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": None,
                             "llm_model_preferences": {"EngageUser": {"llm_name": "openai_gpt-5.4-nano-2026-03-17"}}}}))
        [s] = amigo.services.get_services(GetServicesParametersQuery(id=[created.id])).services
        assert s.description == "Updated." and s.version_sets["pinned"].agent_version_number == 1
        assert s.version_sets["pinned"].llm_model_preferences["EngageUser"].llm_name == "openai_gpt-5.4-nano-2026-03-17"
        try:
            amigo.services.upsert_version_set(created.id, "edge", ServiceUpsertServiceVersionSetRequest.model_validate(
                {"version_set": {"agent_version_number": None, "service_hierarchical_state_machine_version_number": None,
                                 "llm_model_preferences": {}}}))
            raise AssertionError("edge accepted")
        except BadRequestError:
            pass
        amigo.services.delete_version_set(created.id, "pinned")
        try:
            amigo.services.delete_version_set(created.id, "pinned")
            raise AssertionError("double delete accepted")
        except NotFoundError:
            pass
        try:
            amigo.services.create_service(ServiceCreateServiceRequest.model_validate(
                service_body(agent_id, graph_id, tags={})))
            raise AssertionError("duplicate active name accepted")
        except ConflictError:
            pass
