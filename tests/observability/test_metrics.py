"""``/metrics`` scraped through the ASGI app after real turns, conflicts, rate limits, jobs and webhook failures."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update

from tertulia.conversation import lease
from tertulia.core.clock import utcnow
from tertulia.jobs.models import Job
from tertulia.jobs.queue import enqueue_job
from tertulia.webhook.events import POST_PROCESSING_COMPLETE, post_processing_complete
from tests.observability.support import scrape
from tests.support.conversation import interact, make_service, start
from tests.support.postprocessing import WebhookReceiver, drain


async def test_turns_count_llm_calls_tokens_and_responses(client, tenant, runtime):
    ready = await make_service(client, tenant)
    before = await scrape(client)
    conversation_id, _ = await start(client, tenant, ready.service_id)
    r = await interact(client, tenant, conversation_id, "How are you doing today?")
    assert r.status_code == 200, r.text
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("tertulia_http_responses_total", operation="create-conversation", status="201") == 1
    assert delta("tertulia_http_responses_total", operation="interact-with-conversation", status="200") == 1
    # two turns, one reply each; the fake model's reply is 10 words ("tokens") long
    assert delta("tertulia_llm_calls_total", interaction="EngageUser", outcome="ok") == 2
    assert delta("tertulia_llm_tokens_total", interaction="EngageUser", direction="output") == 20
    assert delta("tertulia_llm_tokens_total", interaction="EngageUser", direction="input") > 0
    assert delta("tertulia_llm_calls_total", interaction="SelectNextAction", outcome="ok") >= 2
    assert delta("tertulia_llm_duration_seconds_count", interaction="EngageUser") == 2
    assert delta("tertulia_llm_time_to_first_token_seconds_count", interaction="EngageUser") == 2
    models = {ls["model"] for ls in after.labels_of("tertulia_llm_calls_total")}
    assert runtime.settings.llm_model in models
    assert delta("tertulia_http_request_duration_seconds_count", operation="interact-with-conversation") == 1
    service = ready.service_id
    assert delta("tertulia_turns_total", service=service, outcome="ok") == 2
    assert delta("tertulia_turn_duration_seconds_count", service=service) == 2
    assert delta("tertulia_turn_first_event_seconds_count", service=service) == 2
    assert after.value("tertulia_turn_first_event_seconds_sum", service=service) <= after.value(
        "tertulia_turn_duration_seconds_sum", service=service)


async def test_failed_turns_count_llm_errors(client, tenant, runtime):
    ready = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, ready.service_id)
    before = await scrape(client)
    runtime.llm.fail("EngageUser", after_fragments=1)
    r = await interact(client, tenant, conversation_id, "Still there?")
    assert '"type":"error"' in r.text.replace(" ", ""), r.text
    after = await scrape(client)
    assert after.value("tertulia_llm_errors_total", interaction="EngageUser", kind="error") - before.value(
        "tertulia_llm_errors_total", interaction="EngageUser", kind="error") == 1
    assert after.value("tertulia_turns_total", service=ready.service_id, outcome="error") == 1


async def test_turn_log_lines_carry_the_ids_and_no_text(client, tenant, caplog):
    import logging

    from tertulia.observability.logs import ContextFilter

    caplog.handler.addFilter(ContextFilter())  # what configure_logging puts on the server's handlers
    ready = await make_service(client, tenant)
    with caplog.at_level(logging.INFO):
        conversation_id, events = await start(client, tenant, ready.service_id)
        r = await interact(client, tenant, conversation_id, "A private sentence about my health")
    assert r.status_code == 200
    turns = [rec for rec in caplog.records if rec.name == "tertulia.turns"]
    assert len(turns) == 2
    for record in turns:
        assert record.org_id == tenant.org_id and record.conversation_id == conversation_id
        assert len(record.interaction_id) == 24 and record.turn_outcome == "ok"
    assert turns[0].interaction_id != turns[1].interaction_id
    assert not any("private sentence" in rec.getMessage() for rec in caplog.records)


async def test_conflicts_and_active_leases(client, tenant, runtime):
    ready = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, ready.service_id)
    before = await scrape(client)
    token = await lease.acquire(runtime.db.sessions, tenant.org_id, conversation_id)  # another request's turn
    assert token
    held = await scrape(client)
    assert held.value("tertulia_conversation_active_leases") == before.value("tertulia_conversation_active_leases") + 1
    r = await interact(client, tenant, conversation_id, "Anyone there?")
    assert r.status_code == 409, r.text
    await lease.release(runtime.db.sessions, tenant.org_id, conversation_id, token)
    after = await scrape(client)
    assert after.value("tertulia_http_responses_total", operation="interact-with-conversation", status="409") == (
        before.value("tertulia_http_responses_total", operation="interact-with-conversation", status="409") + 1
    )
    assert after.value("tertulia_conversation_active_leases") == before.value("tertulia_conversation_active_leases")


async def test_rate_limited_responses_are_counted(client, tenant, limiter_on):
    before = await scrape(client)
    statuses = [(await client.get(tenant.url("/admin/get_models/"), headers=tenant.headers)).status_code
                for _ in range(21)]
    assert statuses.count(429) == 1 and statuses[-1] == 429
    after = await scrape(client)
    for status, count in (("200", 20), ("429", 1)):
        assert after.value("tertulia_http_responses_total", operation="get-models", status=status) - before.value(
            "tertulia_http_responses_total", operation="get-models", status=status) == count


async def test_queue_depth_and_oldest_age_by_kind(client, tenant, runtime):
    kind = f"test.observed.{tenant.org_id[-6:]}"  # no worker has a handler: the jobs stay queued
    try:
        async with runtime.db.sessions() as session:
            for _ in range(2):
                await enqueue_job(session, kind, {}, org_id=tenant.org_id)
            await enqueue_job(session, kind, {}, org_id=tenant.org_id, delay_seconds=3600)  # not due yet
            await session.commit()
            await session.execute(update(Job).where(Job.kind == kind, Job.run_after <= utcnow())
                                  .values(run_after=utcnow() - timedelta(seconds=90)))
            await session.commit()
        got = await scrape(client)
        assert got.value("tertulia_job_queue_depth", kind=kind) == 3
        assert 90 <= got.value("tertulia_job_oldest_age_seconds", kind=kind) < 300
    finally:
        async with runtime.db.sessions() as session:
            await session.execute(delete(Job).where(Job.kind == kind))
            await session.commit()
    assert (await scrape(client)).value("tertulia_job_queue_depth", kind=kind) == 0


async def test_job_runs_and_webhook_failures_are_counted(client, tenant, runtime):
    receiver = WebhookReceiver()
    try:
        created = await client.post(tenant.url("/webhook_destination/"), headers=tenant.headers, json={
            "url": receiver.url, "accepted_types": [POST_PROCESSING_COMPLETE], "retry_attempts": 1})
        assert created.status_code == 201, created.text
        receiver.statuses = [500, 500]
        before = await scrape(client)
        async with runtime.db.sessions() as session:
            await post_processing_complete(session, tenant.org_id, "c" * 24, "compute-metrics")
            await session.commit()
        await drain(runtime, tenant.org_id)
        after = await scrape(client)
    finally:
        receiver.close()

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert len(receiver.received) == 2
    assert delta("tertulia_webhook_delivery_failures_total", event_type=POST_PROCESSING_COMPLETE) == 2
    assert delta("tertulia_jobs_total", kind="webhook.deliver", outcome="retried") == 1
    assert delta("tertulia_jobs_total", kind="webhook.deliver", outcome="failed") == 1
    assert delta("tertulia_job_duration_seconds_count", kind="webhook.deliver") == 2
