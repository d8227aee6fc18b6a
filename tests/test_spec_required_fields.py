"""Request fields the spec marks required are refused when missing, and its constraints hold (retry_attempts has
``exclusiveMinimum: 0``); nothing is created by a refused request."""

from __future__ import annotations

from tests.test_dynamic_behavior_set import SAFETY
from tests.test_service import make_agent, make_graph, service_body

HOOK = {"url": "https://example.com/hook", "accepted_types": ["conversation-post-processing-complete"]}


def _missing(response, *loc: str) -> bool:
    return response.status_code == 422 and any(
        e["type"] == "missing" and e["loc"] == ["body", *loc] for e in response.json()["detail"])


async def test_create_service_requires_tags_and_keyterms(client, tenant):
    h = tenant.headers
    agent_id, graph_id = await make_agent(client, tenant, "A"), await make_graph(client, tenant, "G")
    for field in ("tags", "keyterms"):
        body = {k: v for k, v in service_body(agent_id, graph_id).items() if k != field}
        r = await client.post(tenant.url("/service/"), json=body, headers=h)
        assert _missing(r, field), r.text
    assert (await client.get(tenant.url("/service/"), headers=h)).json()["services"] == []
    assert (await client.post(tenant.url("/service/"), json=service_body(agent_id, graph_id), headers=h)).status_code == 201


async def test_create_dynamic_behavior_set_requires_tags_and_applied_to_services(client, tenant):
    h = tenant.headers
    body = {"name": "Safety", "tags": {}, "applied_to_services": [], "initial_version": SAFETY}
    for field in ("tags", "applied_to_services"):
        r = await client.post(tenant.url("/dynamic_behavior_set/"), json={k: v for k, v in body.items() if k != field},
                              headers=h)
        assert _missing(r, field), r.text
    assert (await client.get(tenant.url("/dynamic_behavior_set/"), headers=h)).json()["dynamic_behavior_sets"] == []
    assert (await client.post(tenant.url("/dynamic_behavior_set/"), json=body, headers=h)).status_code == 201


async def test_webhook_retry_attempts_must_be_positive(client, tenant):
    h = tenant.headers
    url = tenant.url("/webhook_destination/")
    r = await client.post(url, json={**HOOK, "retry_attempts": 0}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "retry_attempts"], r.text
    assert (await client.get(url, headers=h)).json()["webhook_destinations"] == []
    created = await client.post(url, json={**HOOK, "retry_attempts": 1}, headers=h)
    assert created.status_code == 201, created.text
    hook_id = created.json()["webhook_destination_id"]
    r = await client.post(url + hook_id, json={"retry_attempts": 0}, headers=h)
    assert r.status_code == 422, r.text
    [hook] = (await client.get(url, headers=h)).json()["webhook_destinations"]
    assert hook["retry_attempts"] == 1
