"""Listing conversations and messages, tags, permissions, action-event filtering, insights and suggestions."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from tertulia.auth.permissions import ALL_PERMISSIONS, grant
from tertulia.conversation.models import Message
from tertulia.role.models import Role
from tests.support.conversation import create, events_of, interact, make_service, start, types_of
from tests.support.orgs import Tenant, sign_in


async def add_user(client, runtime, tenant: Tenant, role: str = "DefaultUserRole", grants: list | None = None) -> Tenant:
    """Another user of the tenant's organization, signed in (its own Tenant view with the same API key)."""
    from tertulia.user.models import User

    async with runtime.db.sessions() as s:
        role_id = tenant.role_ids.get(role)
        if grants is not None:
            row = Role(org_id=tenant.org_id, name=f"Custom{secrets.token_hex(3)}", permission_grants=grants)
            s.add(row)
            await s.flush()
            role_id = row.id
        user = User(org_id=tenant.org_id, first_name="Una", last_name="User", email=f"{secrets.token_hex(4)}@example.com",
                    role_id=role_id, preferences={})
        s.add(user)
        await s.commit()
        user_id = user.user_id
    other = Tenant(tenant.org_id, user_id, tenant.api_key_id, tenant.api_key, role_ids=tenant.role_ids)
    other.token = await sign_in(client, other, user_id)
    return other


async def test_list_filters_sort_and_paging(client, tenant, runtime):
    a = await make_service(client, tenant, name="A")
    b = await make_service(client, tenant, name="B")
    h = tenant.headers
    c1, _ = await start(client, tenant, a.service_id, tags={"team": "x", "flag": None})
    assert (await client.post(tenant.url(f"/conversation/{c1}/finish/"), headers=h)).status_code == 204
    c2, _ = await start(client, tenant, a.service_id, tags={"team": "y"})
    c3, _ = await start(client, tenant, b.service_id)

    async def ids(query: str) -> list[str]:
        r = await client.get(tenant.url(f"/conversation/?{query}"), headers=h)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["conversations"]]

    assert await ids("") == [c3, c2, c1]  # newest first by default
    assert await ids("sort_by=%2Bcreated_at") == [c1, c2, c3]
    assert await ids("sort_by=-created_at") == [c3, c2, c1]
    assert await ids(f"service_id={a.service_id}&sort_by=%2Bcreated_at") == [c1, c2]
    assert await ids("is_finished=true") == [c1]
    assert await ids("is_finished=false&sort_by=%2Bcreated_at") == [c2, c3]
    assert await ids(f"user_id={tenant.user_id}&id={c1}&id={c3}&sort_by=%2Bcreated_at") == [c1, c3]
    assert await ids("user_id=someone-else") == []
    assert await ids("tag=team:x") == [c1]
    assert await ids("tag=team:*&sort_by=%2Bcreated_at") == [c1, c2]
    assert await ids("tag=flag:") == [c1]
    page1 = (await client.get(tenant.url("/conversation/?limit=2&sort_by=%2Bcreated_at"), headers=h)).json()
    assert [c["id"] for c in page1["conversations"]] == [c1, c2] and page1["has_more"] is True
    page2 = (await client.get(tenant.url(f"/conversation/?limit=2&sort_by=%2Bcreated_at&continuation_token="
                                         f"{page1['continuation_token']}"), headers=h)).json()
    assert [c["id"] for c in page2["conversations"]] == [c3] and page2["has_more"] is False
    assert page2["continuation_token"] is None
    assert (await client.get(tenant.url("/conversation/?limit=151"), headers=h)).status_code == 422
    assert (await client.get(tenant.url("/conversation/?sort_by=name"), headers=h)).status_code == 422
    assert (await client.get(tenant.url("/conversation/?tag=novalue"), headers=h)).status_code == 422
    assert (await client.get(tenant.url("/conversation/?id=bad"), headers=h)).status_code == 422


async def test_messages_filters_and_inner_thoughts(client, tenant, runtime):
    svc = await make_service(client, tenant)
    h = tenant.headers
    cid, created = await start(client, tenant, svc.service_id)
    first_interaction = created[-1]["interaction_id"]
    second = events_of(await interact(client, tenant, cid, "How are you?"))[-1]["interaction_id"]
    async with runtime.db.sessions() as s:  # an inner thought of the first turn (as a reflection state would store)
        agent = await s.scalar(select(Message).where(Message.conversation_id == cid, Message.interaction_id == first_interaction))
        s.add(Message(org_id=tenant.org_id, conversation_id=cid, interaction_id=first_interaction, position=-1,
                      sender="Ava", message="Thinking...", format="text", message_type="agent-inner-thought",
                      created_at=agent.created_at - timedelta(milliseconds=1)))
        await s.commit()
    base = f"/conversation/{cid}/messages/"

    async def get(query: str = "") -> dict:
        r = await client.get(tenant.url(f"{base}?{query}"), headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    default = await get("sort_by=%2Bcreated_at")
    assert [m["message_type"] for m in default["messages"]] == ["agent-message", "user-message", "agent-message"]
    assert [m["message_type"] for m in (await get())["messages"]][0] == "agent-message"  # newest first
    with_thoughts = await get("message_type=agent-inner-thought&message_type=agent-message&sort_by=%2Bcreated_at")
    assert [m["message_type"] for m in with_thoughts["messages"]] == ["agent-inner-thought", "agent-message", "agent-message"]
    only_second = await get(f"interaction_id={second}")
    assert {m["interaction_id"] for m in only_second["messages"]} == {second} and len(only_second["messages"]) == 2
    one = default["messages"][1]["id"]
    assert [m["id"] for m in (await get(f"id={one}"))["messages"]] == [one]
    paged = await get("limit=1&sort_by=%2Bcreated_at")
    assert paged["has_more"] is True and paged["continuation_token"] == 1
    rest = await get("limit=1&sort_by=%2Bcreated_at&continuation_token=2")
    assert rest["messages"][0]["id"] == default["messages"][2]["id"] and rest["has_more"] is False
    by_interaction = await get("sort_by=-interaction_id&sort_by=%2Bcreated_at")
    got = [(m["interaction_id"], m["created_at"]) for m in by_interaction["messages"]]
    assert [g[0] for g in got] == sorted((g[0] for g in got), reverse=True) and len({g[0] for g in got}) == 2
    assert all(a[1] <= b[1] for a, b in zip(got, got[1:]) if a[0] == b[0])
    assert (await client.get(tenant.url(f"{base}?limit=501"), headers=h)).status_code == 422
    assert (await client.get(tenant.url(f"{base}?message_type=bogus"), headers=h)).status_code == 422
    assert (await client.get(tenant.url(f"{base}?sort_by=sender"), headers=h)).status_code == 422
    assert (await client.get(tenant.url(f"/conversation/{'b' * 24}/messages/"), headers=h)).status_code == 404
    src = await client.get(tenant.url(f"/conversation/{cid}/messages/{one}/source"), headers=h)
    assert src.status_code == 400
    assert (await client.get(tenant.url(f"/conversation/{cid}/messages/{'c' * 24}/source"), headers=h)).status_code == 404


async def test_tags_endpoint(client, tenant):
    svc = await make_service(client, tenant)
    h = tenant.headers
    cid, _ = await start(client, tenant, svc.service_id, tags={"a": "1", "b": None})
    url = tenant.url(f"/conversation/{cid}/tags/")
    r = await client.post(url, json={"updates": {"c": "3", "a": "changed"}, "deletes": ["b"]}, headers=h)
    assert r.status_code == 204 and r.content == b""
    listed = (await client.get(tenant.url(f"/conversation/?id={cid}"), headers=h)).json()
    assert listed["conversations"][0]["tags"] == {"a": "changed", "c": "3"}
    too_many = {f"k{i}": "v" for i in range(19)}
    assert (await client.post(url, json={"updates": too_many}, headers=h)).status_code == 400
    assert (await client.post(url, json={"updates": {"bad-key!": "v"}}, headers=h)).status_code == 422
    assert (await client.post(url, json={"updates": {"k": "bad value!"}}, headers=h)).status_code == 422
    assert (await client.post(tenant.url(f"/conversation/{'d' * 24}/tags/"), json={}, headers=h)).status_code == 404
    assert (await client.post(tenant.url(f"/conversation/{cid}/tags"), json={"deletes": ["c"]}, headers=h)).status_code == 204
    listed = (await client.get(tenant.url(f"/conversation/?id={cid}"), headers=h)).json()
    assert listed["conversations"][0]["tags"] == {"a": "changed"}


async def test_action_events_permission_and_filters(client, tenant, runtime):
    svc = await make_service(client, tenant)
    h = tenant.headers
    r = await create(client, tenant, svc.service_id, query="response_format=text&current_agent_action_type=%5Enavigate-")
    actions = [e["action"]["type"] for e in events_of(r) if e["type"] == "current-agent-action"]
    assert actions and all(a.startswith("navigate-") for a in actions)
    cid = events_of(r)[0]["conversation_id"]
    r = await interact(client, tenant, cid, "hi", query="request_format=text&response_format=text&current_agent_action_type=%5E%24")
    assert "current-agent-action" not in types_of(events_of(r))
    r = await interact(client, tenant, cid, "hi", query="request_format=text&response_format=text&emit_current_agent_action_event=false")
    assert "current-agent-action" not in types_of(events_of(r))
    r = await interact(client, tenant, cid, "hi")
    assert "current-agent-action" in types_of(events_of(r))
    bad = await create(client, tenant, svc.service_id, query="response_format=text&current_agent_action_type=%5B")
    assert bad.status_code == 422
    assert (await create(client, tenant, svc.service_id, query="response_format=mp4")).status_code == 422
    assert (await create(client, tenant, svc.service_id, query="response_format=voice")).status_code == 400  # no voice config
    assert (await create(client, tenant, "e" * 24)).status_code == 404
    # seed 003: an unknown version set is "not found" (404), not a bad request
    unknown = await create(client, tenant, svc.service_id, service_version_set_name="nope")
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"], unknown.text
    # an end user without Conversation:GetInteractionInsights never gets action events
    user = await add_user(client, runtime, tenant)
    r = await create(client, user, svc.service_id, headers=user.headers)
    assert r.status_code == 201 and "current-agent-action" not in types_of(events_of(r))
    assert h  # admin headers untouched


async def test_permissions_and_field_visibility(client, tenant, runtime, other_tenant):
    svc = await make_service(client, tenant)
    admin_cid, _ = await start(client, tenant, svc.service_id)
    user = await add_user(client, runtime, tenant)
    user_cid, _ = await start(client, user, svc.service_id)
    uh = user.headers
    seen = (await client.get(tenant.url("/conversation/"), headers=uh)).json()["conversations"]
    assert [c["id"] for c in seen] == [user_cid]  # only own conversations
    assert (await interact(client, user, admin_cid, "hijack", headers=uh)).status_code == 403
    assert (await client.post(tenant.url(f"/conversation/{admin_cid}/finish/"), headers=uh)).status_code == 403
    assert (await client.post(tenant.url(f"/conversation/{admin_cid}/tags/"), json={}, headers=uh)).status_code == 403
    listed = (await client.get(tenant.url(f"/conversation/{admin_cid}/messages/"), headers=uh)).json()
    assert listed["messages"] == []
    own = (await client.get(tenant.url(f"/conversation/{user_cid}/messages/"), headers=uh)).json()
    iid = own["messages"][0]["interaction_id"]
    assert (await client.get(tenant.url(f"/conversation/{user_cid}/interaction/{iid}/insights"), headers=uh)).status_code == 403
    # admin sees everyone's conversations
    everyone = (await client.get(tenant.url("/conversation/?sort_by=%2Bcreated_at"), headers=tenant.headers)).json()
    assert [c["id"] for c in everyone["conversations"]] == [admin_cid, user_cid]
    # a role that may list conversations but not read messages or version sets sees those fields emptied
    names = [p for p in ALL_PERMISSIONS if p not in ("Conversation:GetMessage", "Service:GetVersionSet")]
    limited = await add_user(client, runtime, tenant, grants=[grant(n) for n in names])
    [c] = (await client.get(tenant.url(f"/conversation/?id={admin_cid}"), headers=limited.headers)).json()["conversations"]
    assert c["final_message"] == "" and c["version_set_info"] is None
    [full] = (await client.get(tenant.url(f"/conversation/?id={admin_cid}"), headers=tenant.headers)).json()["conversations"]
    assert full["final_message"] and full["version_set_info"]["name"] == "release"
    # another organization sees nothing of it
    oh = other_tenant.headers
    assert (await client.get(other_tenant.url(f"/conversation/?id={admin_cid}"), headers=oh)).json()["conversations"] == []
    assert (await client.post(other_tenant.url(f"/conversation/{admin_cid}/finish/"), headers=oh)).status_code == 404
    assert (await interact(client, other_tenant, admin_cid, "x", headers=oh)).status_code == 404


async def test_insights_recommend_and_starters(client, tenant, runtime):
    svc = await make_service(client, tenant)
    h = tenant.headers
    cid, events = await start(client, tenant, svc.service_id)
    first = events[-1]["interaction_id"]
    r = await client.get(tenant.url(f"/conversation/{cid}/interaction/{first}/insights"), headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["current_state_name"] == "chat" and body["current_state_action"] == "Chat with the user."
    assert body["current_state_objective"] == "Objective of chat." and isinstance(body["state_transition_logs"], list)
    assert (await client.get(tenant.url(f"/conversation/{cid}/interaction/{'f' * 24}/insights"), headers=h)).status_code == 404

    rec_url = tenant.url(f"/conversation/{cid}/interaction/{first}/recommend_responses")
    runtime.llm.script_decision("RecommendResponses", {"recommended_responses": ["Sounds good", "Tell me more"]})
    r = await client.post(rec_url, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"recommended_responses": ["Sounds good", "Tell me more"]}
    prompt = " ".join(m.content for m in runtime.llm.requests[-1].messages)
    assert "PERSONA:" in prompt and "Complete Service" in prompt  # the spec's default context
    r = await client.post(rec_url, json={"context": "PERSONA: a busy nurse"}, headers=h)
    assert r.status_code == 200 and "busy nurse" in " ".join(m.content for m in runtime.llm.requests[-1].messages)
    second = events_of(await interact(client, tenant, cid, "ok"))[-1]["interaction_id"]
    assert (await client.post(rec_url, headers=h)).status_code == 400  # no longer the latest interaction
    ok = await client.post(tenant.url(f"/conversation/{cid}/interaction/{second}/recommend_responses"), headers=h)
    assert ok.status_code == 200 and ok.json()["recommended_responses"]
    await client.post(tenant.url(f"/conversation/{cid}/finish/"), headers=h)
    assert (await client.post(tenant.url(f"/conversation/{cid}/interaction/{second}/recommend_responses"),
                              headers=h)).status_code == 400

    url = tenant.url("/conversation/conversation_starter")
    body = {"service_id": svc.service_id, "facets": ["sleep", "diet"], "min_count": 2, "max_count": 3,
            "generation_instructions": "Keep them short."}
    runtime.llm.script_decision("GenerateConversationStarters", {"prompts": [
        {"prompt": "How can I sleep better?", "facets": ["sleep"]},
        {"prompt": "What should I eat?", "facets": ["diet", "unknown"]}]})
    r = await client.post(url, json=body, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["prompts"] == [{"prompt": "How can I sleep better?", "facets": ["sleep"]},
                                   {"prompt": "What should I eat?", "facets": ["diet"]}]
    r = await client.post(url, json=body, headers=h)  # the default scripted answer honours min_count
    assert r.status_code == 200 and len(r.json()["prompts"]) == 2
    assert (await client.post(url, json={**body, "min_count": 4, "max_count": 2}, headers=h)).status_code == 422
    assert (await client.post(url, json={**body, "max_count": 11}, headers=h)).status_code == 422
    assert (await client.post(url, json={**body, "facets": []}, headers=h)).status_code == 422
    assert (await client.post(url, json={**body, "service_id": "a" * 24}, headers=h)).status_code == 404
