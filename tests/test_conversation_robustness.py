"""A turn is all or nothing: concurrent calls, client aborts, engine failures, leases held by other processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from tertulia.conversation.models import Conversation, Interaction, Message
from tertulia.core.clock import utcnow
from tertulia.core.ids import new_object_id
from tertulia.user.models import User
from tests.support.conversation import create, events_of, interact, make_service, open_stream, start, types_of


@pytest.fixture
def slow_llm(runtime):
    runtime.llm.delay = 0.0
    yield runtime.llm
    runtime.llm.delay = 0.0


async def _snapshot(runtime, conversation_id: str) -> tuple:
    async with runtime.db.sessions() as s:
        conv = await s.get(Conversation, conversation_id)
        n_messages = await s.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id))
        n_interactions = await s.scalar(
            select(func.count()).select_from(Interaction).where(Interaction.conversation_id == conversation_id))
        return (conv.num_messages, conv.num_interactions, conv.state, conv.final_message_id, n_messages, n_interactions,
                conv.lock_token)


async def _wait_for_lease(runtime, conversation_id: str) -> None:
    for _ in range(200):
        async with runtime.db.sessions() as s:
            if await s.scalar(select(Conversation.lock_token).where(Conversation.id == conversation_id)):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("lease never taken")


async def test_concurrent_interacts_one_conflict(client, tenant, runtime, slow_llm):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    slow_llm.delay = 0.2
    first = asyncio.create_task(interact(client, tenant, conversation_id, "first"))
    await _wait_for_lease(runtime, conversation_id)
    second = await interact(client, tenant, conversation_id, "second")
    finish = await client.post(tenant.url(f"/conversation/{conversation_id}/finish/"), headers=tenant.headers)
    r1 = await first
    assert second.status_code == 409 and finish.status_code == 409
    assert r1.status_code == 200 and types_of(events_of(r1))[-1] == "interaction-complete"
    page = (await client.get(tenant.url(f"/conversation/{conversation_id}/messages/?sort_by=%2Bcreated_at"),
                             headers=tenant.headers)).json()
    assert [m["message_type"] for m in page["messages"]] == ["agent-message", "user-message", "agent-message"]
    assert page["messages"][1]["message"] == "first"
    assert page["messages"][1]["interaction_id"] == page["messages"][2]["interaction_id"]


async def test_two_creates_race_for_the_slot(client, tenant, slow_llm):
    svc = await make_service(client, tenant)
    slow_llm.delay = 0.1
    a, b = await asyncio.gather(create(client, tenant, svc.service_id), create(client, tenant, svc.service_id))
    assert sorted([a.status_code, b.status_code]) == [201, 400]
    listed = (await client.get(tenant.url(f"/conversation/?service_id={svc.service_id}"), headers=tenant.headers)).json()
    assert len(listed["conversations"]) == 1


def _multipart(text: str) -> tuple[bytes, dict[str, str]]:
    request = httpx.Request("POST", "http://x/", files=[("initial_message_type", (None, "user-message")),
                                                         ("recorded_message", ("m.txt", text.encode(), "text/plain"))])
    return request.read(), dict(request.headers)


async def test_client_abort_mid_interact_persists_nothing(app, client, tenant, runtime, slow_llm):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    before = await _snapshot(runtime, conversation_id)
    slow_llm.delay = 0.3
    body, headers = _multipart("I will leave early")
    stream = await open_stream(app, "POST", tenant.url(f"/conversation/{conversation_id}/interact?request_format=text"
                                                        "&response_format=text"), {**tenant.headers, **headers}, body)
    assert stream.status == 200
    assert (await stream.next_event())["type"] == "user-message-available"
    await stream.disconnect()
    assert await _snapshot(runtime, conversation_id) == before  # no message, state, interaction; lease released
    assert before[-1] is None
    r = await interact(client, tenant, conversation_id, "Back again")
    assert types_of(events_of(r))[-1] == "interaction-complete"


async def test_client_abort_mid_create_leaves_no_conversation(app, client, tenant, runtime, slow_llm):
    svc = await make_service(client, tenant)
    slow_llm.delay = 0.3
    url = tenant.url("/conversation/?response_format=text")
    body = httpx.Request("POST", "http://x/", json={"service_id": svc.service_id}).read()
    stream = await open_stream(app, "POST", url, {**tenant.headers, "content-type": "application/json"}, body)
    assert stream.status == 201
    created = await stream.next_event()
    assert created["type"] == "conversation-created"
    await stream.disconnect()
    async with runtime.db.sessions() as s:
        assert await s.get(Conversation, created["conversation_id"]) is None
        user = await s.scalar(select(User).where(User.org_id == tenant.org_id, User.user_id == tenant.user_id))
        assert user.num_conversations == 0
    slow_llm.delay = 0.0
    await start(client, tenant, svc.service_id)  # the slot was freed


async def test_engine_failure_mid_turn_rolls_back(client, tenant, runtime):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    before = await _snapshot(runtime, conversation_id)
    runtime.llm.script_text("EngageUser", "one two three four five")
    runtime.llm.fail("EngageUser", after_fragments=3)
    r = await interact(client, tenant, conversation_id, "This will fail")
    assert r.status_code == 200
    events = events_of(r)
    kinds = types_of(events)
    assert kinds[0] == "user-message-available" and "new-message" in kinds and kinds[-1] == "error"
    assert "interaction-complete" not in kinds
    assert events[-1]["http_error_code"] >= 500 and events[-1]["error_description"]
    assert await _snapshot(runtime, conversation_id) == before
    async with runtime.db.sessions() as s:
        user = await s.scalar(select(User).where(User.org_id == tenant.org_id, User.user_id == tenant.user_id))
        assert user.num_messages == 1  # only the opening agent message counted
    ok = await interact(client, tenant, conversation_id, "Retry")
    assert types_of(events_of(ok))[-1] == "interaction-complete"


async def test_engine_failure_on_opening_turn_drops_conversation(client, tenant, runtime):
    svc = await make_service(client, tenant)
    runtime.llm.fail("EngageUser")
    r = await create(client, tenant, svc.service_id)
    events = events_of(r)
    assert r.status_code == 201 and types_of(events)[0] == "conversation-created" and types_of(events)[-1] == "error"
    async with runtime.db.sessions() as s:
        assert await s.get(Conversation, events[0]["conversation_id"]) is None
    await start(client, tenant, svc.service_id)


async def test_lease_held_elsewhere_and_expired(client, tenant, runtime):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)

    async def set_lease(expires_in: float) -> None:
        async with runtime.db.sessions() as s:
            await s.execute(update(Conversation).where(Conversation.id == conversation_id).values(
                lock_token="other-process", lock_expires_at=utcnow() + timedelta(seconds=expires_in)))
            await s.commit()

    await set_lease(300)
    assert (await interact(client, tenant, conversation_id, "blocked")).status_code == 409
    assert (await client.post(tenant.url(f"/conversation/{conversation_id}/finish/"), headers=tenant.headers)).status_code == 409
    await set_lease(-1)  # the other process crashed: its lease expired
    assert types_of(events_of(await interact(client, tenant, conversation_id, "free")))[-1] == "interaction-complete"


async def test_one_unfinished_conversation_per_service(client, tenant, runtime):
    svc = await make_service(client, tenant)
    other = await make_service(client, tenant, name="Other")
    conversation_id, _ = await start(client, tenant, svc.service_id)
    again = await create(client, tenant, svc.service_id)
    assert again.status_code == 400 and "unfinished" in again.json()["detail"]
    await start(client, tenant, other.service_id)  # another service is fine
    assert (await client.post(tenant.url(f"/conversation/{conversation_id}/finish/"), headers=tenant.headers)).status_code == 204
    await start(client, tenant, svc.service_id)


async def test_finish_rules(client, tenant, runtime):
    svc = await make_service(client, tenant)
    h = tenant.headers
    assert (await client.post(tenant.url(f"/conversation/{'a' * 24}/finish/"), headers=h)).status_code == 404
    assert (await client.post(tenant.url("/conversation/bad/finish/"), headers=h)).status_code == 422
    # a conversation whose opening turn never committed (crashed process): finish deletes it and answers 400
    empty_id = new_object_id()
    async with runtime.db.sessions() as s:
        s.add(Conversation(id=empty_id, org_id=tenant.org_id, user_id=tenant.user_id, service_id=svc.service_id,
                           version_set_info={}, open_key=f"{tenant.user_id}|{svc.service_id}", tags={},
                           completed_post_processings=[], num_messages=0, num_interactions=0, is_finished=False))
        await s.commit()
    r = await client.post(tenant.url(f"/conversation/{empty_id}/finish/"), headers=h)
    assert r.status_code == 400
    async with runtime.db.sessions() as s:
        assert await s.get(Conversation, empty_id) is None
    conversation_id, _ = await start(client, tenant, svc.service_id)
    assert (await client.post(tenant.url(f"/conversation/{conversation_id}/finish"), headers=h)).status_code == 204
    assert (await client.post(tenant.url(f"/conversation/{conversation_id}/finish/"), headers=h)).status_code == 409
    async with runtime.db.sessions() as s:
        conv = await s.get(Conversation, conversation_id)
        assert conv.is_finished and conv.open_key is None and conv.finished_at is not None and conv.lock_token is None


async def test_stale_reservation_is_swept_on_create(client, tenant, runtime):
    svc = await make_service(client, tenant)
    stale = new_object_id()
    async with runtime.db.sessions() as s:
        s.add(Conversation(id=stale, org_id=tenant.org_id, user_id=tenant.user_id, service_id=svc.service_id,
                           version_set_info={}, open_key=f"{tenant.user_id}|{svc.service_id}", tags={},
                           lock_token="dead", lock_expires_at=utcnow() - timedelta(seconds=5),
                           completed_post_processings=[], num_messages=0, num_interactions=0, is_finished=False))
        await s.commit()
    await start(client, tenant, svc.service_id)
    async with runtime.db.sessions() as s:
        assert await s.get(Conversation, stale) is None


async def test_lease_is_renewed_while_a_long_turn_streams(client, tenant, runtime, slow_llm, monkeypatch):
    from tertulia.conversation import lease

    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    monkeypatch.setattr(lease, "RENEW_EVERY", 0.05)
    slow_llm.delay = 0.2
    turn = asyncio.create_task(interact(client, tenant, conversation_id, "long one"))
    await _wait_for_lease(runtime, conversation_id)
    seen = set()
    while not turn.done():
        async with runtime.db.sessions() as s:
            expiry = await s.scalar(select(Conversation.lock_expires_at).where(Conversation.id == conversation_id))
        if expiry is not None:
            seen.add(expiry)
        await asyncio.sleep(0.03)
    assert types_of(events_of(await turn))[-1] == "interaction-complete"
    assert len(seen) >= 2  # the expiry moved forward while the turn ran
    assert max(seen) > utcnow() + timedelta(seconds=lease.LEASE_SECONDS - 30)


async def test_a_lease_taken_over_mid_turn_discards_the_turn(client, tenant, runtime, slow_llm):
    """The outcome's write is conditional on still holding the lease (on SQLite, checked inside the one-trip batch):
    a turn whose lease another process took over meanwhile ends in a 409 error event and writes nothing."""
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    before = await _snapshot(runtime, conversation_id)
    slow_llm.delay = 0.3
    turn = asyncio.create_task(interact(client, tenant, conversation_id, "taken over"))
    await _wait_for_lease(runtime, conversation_id)
    async with runtime.db.sessions() as s:
        await s.execute(update(Conversation).where(Conversation.id == conversation_id).values(
            lock_token="other-process", lock_expires_at=utcnow() + timedelta(seconds=300)))
        await s.commit()
    events = events_of(await turn)
    assert events[-1]["type"] == "error" and events[-1]["http_error_code"] == 409, events[-1]
    after = await _snapshot(runtime, conversation_id)
    assert after[:6] == before[:6] and after[6] == "other-process"  # nothing written, the other holder kept it
