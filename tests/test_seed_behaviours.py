"""Behaviours the seeds document beyond the reference OpenAPI: an unknown version set is 404 (seed 003), recommend
responses by GET (seed 002), messages carry and sort by ``timestamp`` (seed 002), interaction-complete carries
``final_message`` (seed 004's example reads ``evt.final_message``)."""

from __future__ import annotations

from tests.support.conversation import create, events_of, interact, make_service, start


async def test_an_unknown_version_set_is_not_found_and_starts_nothing(client, tenant, runtime):
    svc = await make_service(client, tenant)
    calls = len(runtime.llm.requests)
    r = await create(client, tenant, svc.service_id, service_version_set_name="no-such-set")
    assert r.status_code == 404 and "no-such-set" in r.json()["detail"], r.text
    assert len(runtime.llm.requests) == calls
    assert (await client.get(tenant.url("/conversation/"), headers=tenant.headers)).json()["conversations"] == []


async def test_recommend_responses_by_get_as_seed_002_documents(client, tenant, runtime):
    svc = await make_service(client, tenant)
    cid, events = await start(client, tenant, svc.service_id)
    url = tenant.url(f"/conversation/{cid}/interaction/{events[-1]['interaction_id']}/recommend_responses")
    runtime.llm.script_decision("RecommendResponses", {"recommended_responses": ["Yes please", "Not now"]})
    r = await client.get(url, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"recommended_responses": ["Yes please", "Not now"]}
    prompt = " ".join(m.content for m in runtime.llm.requests[-1].messages)
    assert "Complete Service" in prompt  # the default context, as a POST without a body
    assert (await client.get(url, headers={})).status_code == 401
    stale = tenant.url(f"/conversation/{cid}/interaction/{'e' * 24}/recommend_responses")
    assert (await client.get(stale, headers=tenant.headers)).status_code in (400, 404)
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/v1/{organization}/conversation/{conversation_id}/interaction/{interaction_id}/recommend_responses"]) == {"post"}


async def test_messages_carry_and_sort_by_timestamp(client, tenant):
    svc = await make_service(client, tenant)
    cid, _ = await start(client, tenant, svc.service_id)
    assert events_of(await interact(client, tenant, cid, "Second turn"))[-1]["type"] == "interaction-complete"
    url = tenant.url(f"/conversation/{cid}/messages/")
    ascending = (await client.get(url, params={"sort_by": "+timestamp"}, headers=tenant.headers)).json()["messages"]
    assert len(ascending) >= 3
    assert all(m["timestamp"] == m["created_at"] for m in ascending)
    stamps = [m["timestamp"] for m in ascending]
    assert stamps == sorted(stamps)
    descending = (await client.get(url, params={"sort_by": "-timestamp"}, headers=tenant.headers)).json()["messages"]
    assert [m["timestamp"] for m in descending] == sorted(stamps, reverse=True)
    by_created = (await client.get(url, params={"sort_by": "+created_at"}, headers=tenant.headers)).json()["messages"]
    assert [m["id"] for m in by_created] == [m["id"] for m in ascending]
    both = await client.get(url, params=[("sort_by", "-interaction_id"), ("sort_by", "+timestamp")], headers=tenant.headers)
    assert both.status_code == 200
    assert (await client.get(url, params={"sort_by": "+nonsense"}, headers=tenant.headers)).status_code == 422


async def test_interaction_complete_carries_final_message_beside_full_message(client, tenant):
    svc = await make_service(client, tenant)
    cid, events = await start(client, tenant, svc.service_id)
    done = events[-1]
    assert done["type"] == "interaction-complete" and done["final_message"] == done["full_message"] != ""
    done = events_of(await interact(client, tenant, cid, "Hello again"))[-1]
    assert done["type"] == "interaction-complete" and done["final_message"] == done["full_message"] != ""
