"""Dynamic behavior sets over HTTP: create/list/search/update/delete, versions and invocations."""

from __future__ import annotations

from datetime import timedelta

from tertulia.core.clock import utcnow
from tertulia.dynamic_behavior_set.models import DynamicBehaviorInvocation
from tests.test_service import make_agent, make_graph, service_body

BASE = "/dynamic_behavior_set/"
SAFETY = {
    "is_active": True,
    "conversation_triggers": ["The user mentions wanting to hurt themselves", "The user describes a medical emergency"],
    "actions": [{"type": "inject-instruction", "instruction": "Share the emergency number.", "overrides_instructions": True}],
}
TOOLS = {
    "type": "change-tool-candidates",
    "tool_call_specs": [{
        "tool_id": "e" * 24, "version_constraint": "~=1.2", "additional_instruction": "Find a clinic.",
        "audio_fillers": [], "audio_filler_triggered_after": 1.5, "result_persistence": "persisted", "tool_name": "clinic"}],
    "overrides_existing_tool_call_specs": False,
}


async def _service(client, tenant, name="Svc") -> str:
    agent_id = await make_agent(client, tenant, f"{name} agent")
    graph_id = await make_graph(client, tenant, f"{name} graph")
    r = await client.post(tenant.url("/service/"), json=service_body(agent_id, graph_id, name=name), headers=tenant.headers)
    return r.json()["id"]


async def _create(client, tenant, name: str, services: list[str], version=SAFETY, tags=None):
    return await client.post(tenant.url(BASE), json={"name": name, "tags": tags or {}, "applied_to_services": services,
                                                     "initial_version": version}, headers=tenant.headers)


async def test_dbs_lifecycle(client, tenant, runtime):
    h = tenant.headers
    service_id = await _service(client, tenant)
    r = await _create(client, tenant, "Safety", [service_id], tags={"kind": "safety"})
    assert r.status_code == 201, r.text
    set_id = r.json()["dynamic_behavior_set_id"]
    assert (await _create(client, tenant, "Safety", [])).status_code == 409
    inactive_twin = await _create(client, tenant, "Safety", [], version={**SAFETY, "is_active": False})
    assert inactive_twin.status_code == 201

    listed = (await client.get(tenant.url(BASE), headers=h)).json()
    assert [s["name"] for s in listed["dynamic_behavior_sets"]] == ["Safety", "Safety"]
    first = listed["dynamic_behavior_sets"][0]
    assert first["id"] == set_id and first["applied_to_services"] == [service_id] and first["tags"] == {"kind": "safety"}
    assert first["is_active"] is True and first["creator"]["user_id"] == tenant.user_id
    assert listed["filter_values"]["applied_to_services_ids"] == [service_id]
    assert listed["filter_values"]["tags"] == ["kind:safety"]
    only = (await client.get(tenant.url(f"{BASE}?applied_to_service={service_id}"), headers=h)).json()
    assert [s["id"] for s in only["dynamic_behavior_sets"]] == [set_id]
    assert (await client.get(tenant.url(f"{BASE}?tag=kind:*&is_active=true"), headers=h)).json()["dynamic_behavior_sets"][0]["id"] == set_id
    mine = f"{tenant.org_id},{tenant.user_id}"
    assert len((await client.get(tenant.url(f"{BASE}?creator={mine}"), headers=h)).json()["dynamic_behavior_sets"]) == 2
    assert (await client.get(tenant.url(f"{BASE}?creator=nobody"), headers=h)).status_code == 422

    # versions
    url = tenant.url(f"{BASE}{set_id}/version/")
    v2 = await client.post(url, json={"conversation_triggers": ["User feels unsafe"], "actions": [TOOLS]}, headers=h)
    assert v2.status_code == 201 and v2.json() == {"new_version_number": 2}
    assert (await client.post(url + "?version=2", json={"conversation_triggers": ["x"], "actions": []}, headers=h)).status_code == 400
    assert (await client.post(url + "?version=1", json={"conversation_triggers": ["x"], "actions": []}, headers=h)).status_code == 422
    assert (await client.post(url + "?version=3", json={"conversation_triggers": ["x"], "actions": []}, headers=h)).status_code == 201
    got = (await client.get(url + "?version=2", headers=h)).json()
    [v] = got["dynamic_behavior_set_versions"]
    assert v["_id"] and v["version"] == 2 and v["dynamic_behavior_set_id"] == set_id
    assert v["actions"] == [TOOLS] and v["conversation_triggers"] == ["User feels unsafe"]
    assert [x["version"] for x in (await client.get(url + "?version=1-latest&sort_by=%2Bversion", headers=h)).json()["dynamic_behavior_set_versions"]] == [1, 2, 3]
    for bad in ({"conversation_triggers": [], "actions": []},
                {"conversation_triggers": ["t"] * 51, "actions": []},
                {"conversation_triggers": ["t"], "actions": [{"type": "explode"}]},
                {"conversation_triggers": ["t"], "actions": [{**TOOLS, "tool_call_specs": [{**TOOLS["tool_call_specs"][0], "tool_name": ""}]}]}):
        assert (await client.post(url, json=bad, headers=h)).status_code == 422
    assert len((await client.get(url, headers=h)).json()["dynamic_behavior_set_versions"]) == 3  # nothing added

    # update
    up = await client.post(tenant.url(f"{BASE}{set_id}/"), json={"name": "Crisis", "tags": {"kind": None}}, headers=h)
    assert up.status_code == 204 and up.content == b""
    listed = (await client.get(tenant.url(f"{BASE}?id={set_id}"), headers=h)).json()["dynamic_behavior_sets"][0]
    assert listed["name"] == "Crisis" and listed["tags"] == {"kind": None}
    assert (await client.post(tenant.url(f"{BASE}{set_id}/"), json={"applied_to_services": ["f" * 24]}, headers=h)).status_code == 404
    twin_id = inactive_twin.json()["dynamic_behavior_set_id"]
    assert (await client.post(tenant.url(f"{BASE}{twin_id}/"), json={"name": "Crisis", "is_active": True}, headers=h)).status_code == 409
    assert (await client.post(tenant.url(f"{BASE}{twin_id}/"), json={"is_active": True}, headers=h)).status_code == 204

    # invocations (written by the conversation engine; here straight into the table)
    async with runtime.db.sessions() as session:
        now = utcnow()
        for i in range(3):
            session.add(DynamicBehaviorInvocation(
                org_id=tenant.org_id, dynamic_behavior_set_id=set_id, dynamic_behavior_set_version=2,
                conversation_id="a" * 24, service_id=service_id, user_id=tenant.user_id,
                initial_message_id=f"{i:024x}", agent_message_id=None, invoked_at=now + timedelta(seconds=i)))
        session.add(DynamicBehaviorInvocation(
            org_id=tenant.org_id, dynamic_behavior_set_id=twin_id, dynamic_behavior_set_version=1,
            conversation_id="a" * 24, service_id=service_id, user_id=tenant.user_id, initial_message_id="b" * 24))
        await session.commit()
    inv = (await client.get(tenant.url(f"{BASE}{set_id}/invocation/?limit=2"), headers=h)).json()
    assert [i["initial_message_id"] for i in inv["dynamic_behavior_invocations"]] == [f"{2:024x}", f"{1:024x}"]
    assert inv["has_more"] is True and inv["continuation_token"] == 2
    assert inv["dynamic_behavior_invocations"][0]["dynamic_behavior_set_version_info"] == [set_id, 2]
    asc = (await client.get(tenant.url(f"{BASE}{set_id}/invocation/?sort_by=%2Binvoked_at"), headers=h)).json()
    assert [i["initial_message_id"] for i in asc["dynamic_behavior_invocations"]][0] == f"{0:024x}"

    # delete
    assert (await client.delete(tenant.url(f"{BASE}{set_id}/"), headers=h)).status_code == 200
    assert (await client.delete(tenant.url(f"{BASE}{set_id}/"), headers=h)).status_code == 404
    assert (await client.get(url, headers=h)).status_code == 404


async def test_dbs_search(client, tenant):
    h = tenant.headers
    await _create(client, tenant, "Medical emergency", [])
    await _create(client, tenant, "Billing questions", [], version={
        **SAFETY, "conversation_triggers": ["User asks about an invoice or a refund"]})
    await _create(client, tenant, "Small talk", [], version={**SAFETY, "is_active": False,
                                                            "conversation_triggers": ["User talks about the weather"]})

    async def search(q: str, extra: str = "") -> list[str]:
        r = await client.get(tenant.url(f"/dynamic_behavior_set/search?query={q}{extra}"), headers=h)
        assert r.status_code == 200, r.text
        return [s["name"] for s in r.json()["dynamic_behavior_sets"]]

    assert await search("emergency") == ["Medical emergency"]
    assert await search("refund") == ["Billing questions"]
    assert await search("user") == ["Small talk", "Billing questions", "Medical emergency"]  # trigger hits, newest first
    assert (await search("billing user"))[:1] == ["Billing questions"]  # name hits weigh more
    assert await search("weath") == ["Small talk"]  # prefix match
    assert await search("weather", "&is_active=true") == []
    assert await search("zebra") == []
    assert (await client.get(tenant.url("/dynamic_behavior_set/search?query=%20"), headers=h)).status_code == 422
    assert (await client.get(tenant.url("/dynamic_behavior_set/search"), headers=h)).status_code == 422


async def test_dbs_errors_and_cross_org(client, tenant, other_tenant):
    h = tenant.headers
    assert (await _create(client, tenant, "Bad", ["f" * 24])).status_code == 404
    assert (await _create(client, tenant, "Bad", ["nope"])).status_code == 422
    assert (await _create(client, tenant, "Bad", [], version={**SAFETY, "conversation_triggers": []})).status_code == 422
    assert (await client.get(tenant.url(BASE), headers=h)).json()["dynamic_behavior_sets"] == []  # nothing created
    set_id = (await _create(client, tenant, "Mine", [])).json()["dynamic_behavior_set_id"]
    missing = "c" * 24
    assert (await client.get(tenant.url(f"{BASE}{missing}/version/"), headers=h)).status_code == 404
    assert (await client.get(tenant.url(f"{BASE}{missing}/invocation/"), headers=h)).status_code == 404
    assert (await client.get(tenant.url(f"{BASE}not-an-id/version/"), headers=h)).status_code == 422
    oh = other_tenant.headers
    assert (await client.get(other_tenant.url(f"{BASE}{set_id}/version/"), headers=oh)).status_code == 404
    assert (await client.post(other_tenant.url(f"{BASE}{set_id}/"), json={"name": "x"}, headers=oh)).status_code == 404
    assert (await client.post(other_tenant.url(f"{BASE}{set_id}/version/"), json={"conversation_triggers": ["x"], "actions": []}, headers=oh)).status_code == 404
    assert (await client.delete(other_tenant.url(f"{BASE}{set_id}/"), headers=oh)).status_code == 404
    assert (await client.get(other_tenant.url(BASE), headers=oh)).json()["dynamic_behavior_sets"] == []
    assert (await client.get(other_tenant.url("/dynamic_behavior_set/search?query=mine"), headers=oh)).json()["dynamic_behavior_sets"] == []
    # a service of another organization cannot be targeted
    other_service = await _service(client, other_tenant, "Theirs")
    assert (await _create(client, tenant, "Cross", [other_service])).status_code == 404
