"""Webhook destinations over HTTP and signed deliveries (verified with the official SDK's verifier)."""

from __future__ import annotations

import pytest
from amigo_sdk.webhooks import WebhookVerificationError, parse_webhook_event, verify_signature
from sqlalchemy import select, update

from tertulia.core.clock import utcnow
from tertulia.jobs.models import Job
from tertulia.webhook.events import POST_PROCESSING_COMPLETE, post_processing_complete
from tertulia.webhook.models import WebhookDestination
from tests.support.postprocessing import WebhookReceiver, drain

TYPE = [POST_PROCESSING_COMPLETE]


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


async def emit(runtime, org_id: str, conversation_id: str = "c" * 24, step: str = "compute-metrics") -> list[str]:
    async with runtime.db.sessions() as session:
        ids = await post_processing_complete(session, org_id, conversation_id, step)
        await session.commit()
    return ids


async def test_destination_crud_and_validation(client, tenant, other_tenant, runtime):
    h = tenant.headers
    for url in ("http://example.com/hook", "ftp://example.com/x", "not a url"):
        bad = await client.post(tenant.url("/webhook_destination/"), headers=h, json={"url": url, "accepted_types": TYPE})
        assert bad.status_code in (400, 422), url
    bad_type = await client.post(tenant.url("/webhook_destination/"), headers=h,
                                 json={"url": "https://example.com/h", "accepted_types": ["nope"]})
    assert bad_type.status_code == 422
    created = await client.post(tenant.url("/webhook_destination/"), headers=h,
                                json={"url": "https://example.com/h", "accepted_types": TYPE})
    assert created.status_code == 201, created.text
    dest_id, secret = created.json()["webhook_destination_id"], created.json()["secret"]
    assert len(secret) >= 32
    listed = (await client.get(tenant.url("/webhook_destination/"), headers=h)).json()["webhook_destinations"]
    assert listed == [{"id": dest_id, "url": "https://example.com/h", "secret_generated_at": listed[0]["secret_generated_at"],
                       "retry_attempts": 3, "accepted_types": TYPE}]
    async with runtime.db.sessions() as session:  # sealed at rest
        row = await session.get(WebhookDestination, dest_id)
        assert secret not in row.sealed_secret

    upd = await client.post(tenant.url(f"/webhook_destination/{dest_id}"), headers=h,
                            json={"retry_attempts": 5, "accepted_types": ["api-key-expiration-soon"]})
    assert upd.status_code == 204 and upd.content == b""
    got = (await client.get(tenant.url("/webhook_destination/"), params={"id": dest_id}, headers=h)).json()
    assert got["webhook_destinations"][0]["retry_attempts"] == 5
    assert got["webhook_destinations"][0]["accepted_types"] == ["api-key-expiration-soon"]
    too_many = await client.post(tenant.url(f"/webhook_destination/{dest_id}"), headers=h, json={"retry_attempts": 6})
    assert too_many.status_code == 422

    other = other_tenant.headers
    assert (await client.post(other_tenant.url(f"/webhook_destination/{dest_id}"), headers=other, json={})).status_code == 404
    assert (await client.get(other_tenant.url(f"/webhook_destination/{dest_id}/delivery"), headers=other)).status_code == 404
    assert (await client.delete(tenant.url("/webhook_destination/xyz"), headers=h)).status_code == 422

    for i in range(9):  # 10 per organization
        more = await client.post(tenant.url("/webhook_destination/"), headers=h,
                                 json={"url": f"https://example.com/{i}", "accepted_types": TYPE})
        assert more.status_code == 201
    eleventh = await client.post(tenant.url("/webhook_destination/"), headers=h,
                                 json={"url": "https://example.com/11", "accepted_types": TYPE})
    assert eleventh.status_code == 400

    assert (await client.delete(tenant.url(f"/webhook_destination/{dest_id}"), headers=h)).status_code == 204
    assert (await client.delete(tenant.url(f"/webhook_destination/{dest_id}"), headers=h)).status_code == 404
    remaining = (await client.get(tenant.url("/webhook_destination/"), headers=h)).json()["webhook_destinations"]
    assert len(remaining) == 9 and dest_id not in {d["id"] for d in remaining}


async def test_delivery_is_signed_retried_and_recorded(client, tenant, runtime, receiver):
    h = tenant.headers
    created = (await client.post(tenant.url("/webhook_destination/"), headers=h, json={
        "url": receiver.url, "accepted_types": TYPE, "retry_attempts": 2})).json()
    dest_id, secret = created["webhook_destination_id"], created["secret"]
    await client.post(tenant.url("/webhook_destination/"), headers=h, json={  # does not accept this type
        "url": receiver.url, "accepted_types": ["api-key-expiration-soon"]})
    receiver.statuses = [500, 503]  # two failures, then 200
    [delivery_id] = await emit(runtime, tenant.org_id)
    await drain(runtime, tenant.org_id)

    assert len(receiver.received) == 3
    keys = {r.headers["x-amigo-idempotent-key"] for r in receiver.received}
    assert keys == {delivery_id}  # stable across retries
    for got in receiver.received:
        verify_signature(got.body, got.headers["x-amigo-request-timestamp"], got.headers["x-amigo-request-signature"], secret)
        event = parse_webhook_event(got.body, got.headers["x-amigo-request-signature"],
                                    got.headers["x-amigo-request-timestamp"], secret)
        assert event.type == POST_PROCESSING_COMPLETE and event.org_id == tenant.org_id
    with pytest.raises(WebhookVerificationError):
        verify_signature(receiver.received[0].body, receiver.received[0].headers["x-amigo-request-timestamp"],
                         receiver.received[0].headers["x-amigo-request-signature"], "wrong-secret")

    deliveries = (await client.get(tenant.url(f"/webhook_destination/{dest_id}/delivery"), headers=h)).json()
    [d] = deliveries["webhook_deliveries"]
    assert d["id"] == delivery_id and d["status"] == "success" and d["dual_signed"] is False
    assert [a["status_code"] for a in d["delivery_attempts"]] == [500, 503, 200]
    assert d["webhook_content"] == {"type": POST_PROCESSING_COMPLETE, "post_processing_type": "compute-metrics",
                                    "conversation_id": "c" * 24, "org_id": tenant.org_id}
    assert (await client.get(tenant.url(f"/webhook_destination/{dest_id}/delivery"), headers=h,
                             params={"status": "failed"})).json()["webhook_deliveries"] == []


async def test_delivery_gives_up_after_retry_attempts(client, tenant, runtime, receiver):
    h = tenant.headers
    dest_id = (await client.post(tenant.url("/webhook_destination/"), headers=h, json={
        "url": receiver.url, "accepted_types": TYPE, "retry_attempts": 1})).json()["webhook_destination_id"]
    receiver.statuses = [500] * 10
    await emit(runtime, tenant.org_id)
    await drain(runtime, tenant.org_id)
    assert len(receiver.received) == 2  # the first attempt + one retry
    [d] = (await client.get(tenant.url(f"/webhook_destination/{dest_id}/delivery"), headers=h)).json()["webhook_deliveries"]
    assert d["status"] == "failed" and [a["status_code"] for a in d["delivery_attempts"]] == [500, 500]
    async with runtime.db.sessions() as session:
        job = await session.scalar(select(Job).where(Job.org_id == tenant.org_id, Job.kind == "webhook.deliver"))
    assert job.status == "failed" and "500" in job.last_error


async def test_rotation_dual_signs_and_is_rate_limited(client, tenant, runtime, receiver):
    h = tenant.headers
    created = (await client.post(tenant.url("/webhook_destination/"), headers=h, json={
        "url": receiver.url, "accepted_types": TYPE})).json()
    dest_id, old = created["webhook_destination_id"], created["secret"]
    rotated = await client.post(tenant.url(f"/webhook_destination/{dest_id}/rotate-secret"), headers=h)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["dual_signing_stops_at"]
    assert (await client.post(tenant.url(f"/webhook_destination/{dest_id}/rotate-secret"), headers=h)).status_code == 400

    await emit(runtime, tenant.org_id)
    await drain(runtime, tenant.org_id)
    got = receiver.received[-1]
    new_sig, old_sig = got.headers["x-amigo-request-signature"].split(",")
    verify_signature(got.body, got.headers["x-amigo-request-timestamp"], new_sig, new)
    verify_signature(got.body, got.headers["x-amigo-request-timestamp"], old_sig, old)
    [d] = (await client.get(tenant.url(f"/webhook_destination/{dest_id}/delivery"), headers=h)).json()["webhook_deliveries"]
    assert d["dual_signed"] is True

    async with runtime.db.sessions() as session:  # the dual-signing window closes: one signature again
        await session.execute(update(WebhookDestination).where(WebhookDestination.id == dest_id)
                              .values(dual_signing_stops_at=utcnow()))
        await session.commit()
    await emit(runtime, tenant.org_id, step="extract-memories")
    await drain(runtime, tenant.org_id)
    got = receiver.received[-1]
    parse_webhook_event(got.body, got.headers["x-amigo-request-signature"], got.headers["x-amigo-request-timestamp"], new)


async def test_deleted_destination_drops_queued_deliveries(client, tenant, runtime, receiver):
    h = tenant.headers
    dest_id = (await client.post(tenant.url("/webhook_destination/"), headers=h, json={
        "url": receiver.url, "accepted_types": TYPE})).json()["webhook_destination_id"]
    await emit(runtime, tenant.org_id)
    assert (await client.delete(tenant.url(f"/webhook_destination/{dest_id}"), headers=h)).status_code == 204
    await drain(runtime, tenant.org_id)
    assert receiver.received == []
