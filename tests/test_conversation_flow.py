"""Create / interact / finish over HTTP with the ScriptedLLM at the port: stream shapes, persistence, lifecycle."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tertulia.conversation.models import Conversation, Interaction, Message
from tertulia.core.clock import utcnow
from tertulia.user.models import User
from tests.support.conversation import create, events_of, interact, make_service, start, types_of


async def test_create_streams_events_in_order(client, tenant, runtime):
    svc = await make_service(client, tenant)
    runtime.llm.script_text("EngageUser", "Hi there, I am Ava.")
    r = await create(client, tenant, svc.service_id, tags={"channel": "web", "vip": None}, is_test=True)
    assert r.status_code == 201, r.text
    events = events_of(r)
    kinds = types_of(events)
    assert kinds[0] == "conversation-created"
    assert kinds[-1] == "interaction-complete"
    first_piece = kinds.index("new-message")
    assert set(kinds[1:first_piece]) <= {"current-agent-action"} and first_piece > 1  # admin sees actions
    pieces = [e for e in events if e["type"] == "new-message"]
    assert [p["sequence_number"] for p in pieces] == list(range(len(pieces)))
    assert [p["stop"] for p in pieces] == [False] * (len(pieces) - 1) + [True]
    assert len({p["message_id"] for p in pieces}) == 1
    done = events[-1]
    assert done["full_message"] == "Hi there, I am Ava." == "".join(p["message"] for p in pieces)
    assert done["message_id"] == pieces[0]["message_id"] and done["conversation_completed"] is False
    conversation_id = events[0]["conversation_id"]

    listed = (await client.get(tenant.url(f"/conversation/?id={conversation_id}"), headers=tenant.headers)).json()
    [conv] = listed["conversations"]
    assert conv["tags"] == {"channel": "web", "vip": None} and conv["is_finished"] is False
    assert conv["final_message"] == "Hi there, I am Ava." and conv["num_messages"] == 1
    assert conv["version_set_info"]["agent_version_info"] == [svc.agent_id, 1]
    async with runtime.db.sessions() as s:
        row = await s.get(Conversation, conversation_id)
        assert row.is_test is True and row.lock_token is None and row.state["state"] == "chat"
        [interaction] = (await s.scalars(select(Interaction).where(Interaction.conversation_id == conversation_id))).all()
        assert interaction.id == done["interaction_id"] and interaction.insights["current_state_name"] == "chat"
        user = await s.scalar(select(User).where(User.org_id == tenant.org_id, User.user_id == tenant.user_id))
        assert user.num_conversations == 1 and user.num_messages == 1 and user.last_message_time is not None


async def test_interact_text_and_external_events(client, tenant, runtime):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    runtime.llm.script_text("EngageUser", "Glad to hear it.")
    r = await interact(client, tenant, conversation_id, "I'm good")
    assert r.status_code == 200, r.text
    events = events_of(r)
    assert events[0]["type"] == "user-message-available" and events[0]["user_message"] == "I'm good"
    assert events[-1]["type"] == "interaction-complete" and events[-1]["full_message"] == "Glad to hear it."

    async with runtime.db.sessions() as s:
        last = max((await s.scalars(select(Message.created_at).where(Message.conversation_id == conversation_id))).all())
    now = utcnow()
    t1, t2 = last + (now - last) / 3, last + 2 * (now - last) / 3
    r = await interact(client, tenant, conversation_id, "Booked a visit", kind="external-event",
                       externals=[("Calendar synced", t1.isoformat()), ("Reminder sent", t2.isoformat())])
    assert r.status_code == 200, r.text
    events = events_of(r)
    assert events[0]["type"] == "user-message-available" and events[-1]["type"] == "interaction-complete"

    page = (await client.get(tenant.url(f"/conversation/{conversation_id}/messages/?sort_by=%2Bcreated_at"),
                             headers=tenant.headers)).json()
    kinds = [(m["message_type"], m["message"]) for m in page["messages"]]
    assert kinds[-4:-1] == [("external-event", "Calendar synced"), ("external-event", "Reminder sent"),
                            ("external-event", "Booked a visit")]
    assert kinds[-1][0] == "agent-message" and kinds[1] == ("user-message", "I'm good")
    interaction_ids = {m["interaction_id"] for m in page["messages"][-4:]}
    assert len(interaction_ids) == 1 and interaction_ids == {events[-1]["interaction_id"]}
    listed = (await client.get(tenant.url(f"/conversation/?id={conversation_id}"), headers=tenant.headers)).json()
    assert listed["conversations"][0]["num_messages"] == 7


async def test_interact_input_validation(client, tenant, runtime):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    h = tenant.headers
    assert (await interact(client, tenant, conversation_id, "   ")).status_code == 400
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert (await interact(client, tenant, conversation_id, "x", externals=[("e", future)])).status_code == 400
    old = (utcnow() - timedelta(days=3)).isoformat()
    assert (await interact(client, tenant, conversation_id, "x", externals=[("e", old)])).status_code == 400
    a, b = (utcnow() - timedelta(seconds=1)).isoformat(), (utcnow() - timedelta(seconds=2)).isoformat()
    assert (await interact(client, tenant, conversation_id, "x", externals=[("e1", a), ("e2", b)])).status_code == 400
    url = tenant.url(f"/conversation/{conversation_id}/interact?request_format=text&response_format=text")
    mismatch = [("initial_message_type", (None, "user-message")), ("external_event_message_content", (None, "e")),
                ("recorded_message", ("m.txt", b"x", "text/plain"))]
    assert (await client.post(url, files=mismatch, headers=h)).status_code == 400
    bad_utf8 = [("initial_message_type", (None, "user-message")), ("recorded_message", ("m.txt", b"\xff\xfe", "text/plain"))]
    assert (await client.post(url, files=bad_utf8, headers=h)).status_code == 400
    assert (await client.post(url, json={"recorded_message": "x"}, headers=h)).status_code == 422  # not multipart
    assert (await interact(client, tenant, conversation_id, "x", query="request_format=text&response_format=text"
                           "&current_agent_action_type=(")).status_code == 422
    assert (await interact(client, tenant, "a" * 24, "x")).status_code == 404
    assert (await interact(client, tenant, "nope", "x")).status_code == 422
    # nothing of the refused calls persisted, and the lease is free: a good call works
    r = await interact(client, tenant, conversation_id, "Fine")
    assert types_of(events_of(r))[-1] == "interaction-complete"
    async with runtime.db.sessions() as s:
        texts = (await s.scalars(select(Message.message).where(Message.conversation_id == conversation_id))).all()
    assert "x" not in texts and "e" not in texts


async def test_skip_turn(client, tenant):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    r = await interact(client, tenant, conversation_id, "", kind="skip")
    assert r.status_code == 200, r.text
    kinds = types_of(events_of(r))
    assert kinds[-1] == "interaction-complete" and "user-message-available" not in kinds
    assert (await interact(client, tenant, conversation_id, "not empty", kind="skip")).status_code == 400


async def test_create_with_initial_message(client, tenant, runtime):
    svc = await make_service(client, tenant)
    conversation_id, events = await start(client, tenant, svc.service_id, initial_message="Hello from the user",
                                          initial_message_type="user-message")
    page = (await client.get(tenant.url(f"/conversation/{conversation_id}/messages/?sort_by=%2Bcreated_at"),
                             headers=tenant.headers)).json()
    assert [(m["message_type"], m["message"]) for m in page["messages"]][0] == ("user-message", "Hello from the user")
    bad = await create(client, tenant, svc.service_id, initial_message_type="user-message")
    assert bad.status_code == 422


async def test_terminal_state_finishes_conversation(client, tenant, runtime):
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id, is_test=True)
    runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})
    runtime.llm.script_text("EngageUser", "Goodbye!")
    events = events_of(await interact(client, tenant, conversation_id, "I'm done, bye"))
    assert events[-1]["type"] == "interaction-complete" and events[-1]["conversation_completed"] is True
    listed = (await client.get(tenant.url(f"/conversation/?id={conversation_id}"), headers=tenant.headers)).json()
    assert listed["conversations"][0]["is_finished"] is True
    assert (await interact(client, tenant, conversation_id, "more")).status_code == 409
    assert (await client.post(tenant.url(f"/conversation/{conversation_id}/finish/"), headers=tenant.headers)).status_code == 409
    # the slot is free again: a new conversation of the same service can start
    again, _ = await start(client, tenant, svc.service_id)
    assert again != conversation_id
