"""The two webhook types beyond post-processing: ``api-key-expiration-soon`` (periodic scan, once per key) and
``agent-framework-resource-updated`` (queued in the transaction of the change), delivered signed through the
delivery jobs and checked with the official SDK's verifier."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from amigo_sdk.webhooks import verify_signature
from sqlalchemy import delete, func, select

from tertulia.api_key.expiry import SCAN, notify_expiring_keys, scan
from tertulia.api_key.models import ApiKey
from tertulia.core.db import Database
from tertulia.jobs.models import Job
from tertulia.jobs.registry import JobContext
from tertulia.jobs.worker import Worker
from tertulia.webhook.events import API_KEY_EXPIRATION_SOON, POST_PROCESSING_COMPLETE, RESOURCE_UPDATED
from tests.support.conversation import AGENT_VERSION
from tests.support.postprocessing import FAST, WebhookReceiver, drain
from tests.test_dynamic_behavior_set import SAFETY
from tests.test_service import make_agent, make_graph, service_body

NOTICE = timedelta(days=7)


@pytest.fixture
def receivers():
    made = [WebhookReceiver(), WebhookReceiver()]
    yield made
    for r in made:
        r.close()


async def destination(client, tenant, url: str, types: list[str]) -> str:
    r = await client.post(tenant.url("/webhook_destination/"), headers=tenant.headers,
                          json={"url": url, "accepted_types": types})
    assert r.status_code == 201, r.text
    return r.json()["secret"]


def verified(receiver: WebhookReceiver, secret: str) -> list[dict]:
    """Every received body, after checking its signature with the SDK's verifier."""
    for got in receiver.received:
        verify_signature(got.body, got.headers["x-amigo-request-timestamp"], got.headers["x-amigo-request-signature"],
                         secret)
    return [json.loads(r.body) for r in receiver.received]


async def make_key(client, tenant, name: str, duration: str) -> str:
    r = await client.post(tenant.url("/organization/api_key/"), headers=tenant.headers,
                          json={"name": name, "duration": duration})
    assert r.status_code == 201, r.text
    return r.json()["api_key_id"]


async def test_expiring_key_is_notified_once_across_scans_and_workers(client, tenant, runtime, receivers):
    accepting, other = receivers
    secret = await destination(client, tenant, accepting.url, [API_KEY_EXPIRATION_SOON])
    await destination(client, tenant, other.url, [POST_PROCESSING_COMPLETE, RESOURCE_UPDATED])
    soon = await make_key(client, tenant, "soon", "P3D")
    later = await make_key(client, tenant, "later", "P30D")

    second_process = Database(runtime.db.url)  # another engine, as another worker process would have
    try:
        await asyncio.gather(notify_expiring_keys(runtime.db, NOTICE), notify_expiring_keys(second_process, NOTICE))
        await notify_expiring_keys(second_process, NOTICE)
    finally:
        await second_process.dispose()
    # the periodic job: every worker schedules it for the current period, one job per period exists; running it
    # again finds nothing new. Scan jobs are cluster-wide (no organization): on a shared database another test's
    # worker may already have scheduled (and run) this period's job, so start from none.
    async with runtime.db.sessions() as session:
        await session.execute(delete(Job).where(Job.kind == SCAN))
        await session.commit()
    worker = Worker(runtime, FAST)
    await worker.schedule_periodic()
    await worker.schedule_periodic()
    async with runtime.db.sessions() as session:
        jobs = (await session.scalars(select(Job).where(Job.kind == SCAN, Job.status == "queued"))).all()
    try:
        assert len(jobs) == 1 and jobs[0].dedupe_key.startswith(f"periodic:{SCAN}:")
        await scan(JobContext(runtime, jobs[0]))
    finally:
        async with runtime.db.sessions() as session:  # leave no cluster-wide job behind for other tests
            await session.execute(delete(Job).where(Job.kind == SCAN))
            await session.commit()
    await drain(runtime, tenant.org_id)

    mine = [e for e in verified(accepting, secret) if e["api_key_id"] in (soon, later)]
    assert len(mine) == 1
    [event] = mine
    async with runtime.db.sessions() as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.org_id == tenant.org_id, ApiKey.key_id == soon))
        assert key.expiry_notified_at is not None
        far = await session.scalar(select(ApiKey).where(ApiKey.org_id == tenant.org_id, ApiKey.key_id == later))
        assert far.expiry_notified_at is None
    assert event == {"type": API_KEY_EXPIRATION_SOON, "org_id": tenant.org_id, "api_key_id": soon, "name": "soon",
                     "expires_at": key.expires_at.isoformat()}
    assert other.received == []


async def test_resource_changes_deliver_one_event_each(client, tenant, runtime, receivers):
    accepting, other = receivers
    h = tenant.headers
    agent_id = await make_agent(client, tenant, "Events agent", versions=1)
    graph_id = await make_graph(client, tenant, "Events graph")
    r = await client.post(tenant.url("/service/"), json=service_body(agent_id, graph_id, name="Events"), headers=h)
    service_id = r.json()["id"]
    r = await client.post(tenant.url("/dynamic_behavior_set/"), headers=h, json={
        "name": "Events set", "tags": {}, "applied_to_services": [service_id], "initial_version": SAFETY})
    set_id = r.json()["dynamic_behavior_set_id"]
    await drain(runtime, tenant.org_id)  # nothing accepts events yet: nothing queued, nothing sent

    secret = await destination(client, tenant, accepting.url, [RESOURCE_UPDATED])
    await destination(client, tenant, other.url, [POST_PROCESSING_COMPLETE, API_KEY_EXPIRATION_SOON])
    r = await client.post(tenant.url(f"/organization/agent/{agent_id}/"), json=AGENT_VERSION, headers=h)
    assert r.status_code == 201, r.text
    r = await client.post(tenant.url(f"/service/{service_id}/"), json={"description": "Changed."}, headers=h)
    assert r.status_code in (200, 204), r.text
    r = await client.delete(tenant.url(f"/dynamic_behavior_set/{set_id}/"), headers=h)
    assert r.status_code in (200, 204), r.text
    await drain(runtime, tenant.org_id)

    base = {"type": RESOURCE_UPDATED, "org_id": tenant.org_id}
    assert verified(accepting, secret) == [
        {**base, "resource_type": "agent", "resource_id": agent_id, "version": 2, "action": "created"},
        {**base, "resource_type": "service", "resource_id": service_id, "version": None, "action": "updated"},
        {**base, "resource_type": "dynamic_behavior_set", "resource_id": set_id, "version": None, "action": "deleted"},
    ]
    assert len({r.headers["x-amigo-idempotent-key"] for r in accepting.received}) == 3
    assert other.received == []


async def test_failed_change_sends_nothing(client, tenant, runtime, receivers):
    accepting, _ = receivers
    h = tenant.headers
    agent_id = await make_agent(client, tenant, "Failing agent", versions=1)
    await destination(client, tenant, accepting.url, [RESOURCE_UPDATED])
    wrong = await client.post(tenant.url(f"/organization/agent/{agent_id}/?version=5"), json=AGENT_VERSION, headers=h)
    assert wrong.status_code == 409
    twin = await client.post(tenant.url("/organization/agent"), json={"agent_name": "Failing agent"}, headers=h)
    assert twin.status_code == 409
    async with runtime.db.sessions() as session:
        queued = await session.scalar(select(func.count()).select_from(Job).where(Job.org_id == tenant.org_id))
    await drain(runtime, tenant.org_id)
    assert accepting.received == [] and queued == 0
