"""The in-process turn runner (``tertulia.turns.inprocess``): the same turns as the HTTP API, without HTTP.

Checked through the API afterwards: what an in-process turn saves is what an HTTP client then reads, a failed
in-process turn leaves nothing, and the lease is shared with HTTP requests on the same conversation.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tertulia.conversation import lease
from tertulia.core.errors import BadRequest, Conflict, NotFound
from tertulia.turns.inprocess import TurnFailed, interact, principal_for, start_conversation
from tertulia.user.models import User

from tests.support.conversation import make_service


async def _messages(client, tenant, conversation_id: str) -> list[dict]:
    r = await client.get(tenant.url(f"/conversation/{conversation_id}/messages/?sort_by=%2Bcreated_at"),
                         headers=tenant.headers)
    assert r.status_code == 200, r.text
    return r.json()["messages"]


async def test_a_conversation_runs_in_process_and_reads_back_over_http(client, tenant, runtime):
    svc = await make_service(client, tenant)
    who = await principal_for(runtime, tenant.org_id, tenant.user_id)
    runtime.llm.script_text("EngageUser", "Hello from the coach.")
    first = (await start_conversation(runtime, who, svc.service_id)).raise_for_error()
    assert first.ok and first.agent_message == "Hello from the coach."
    assert [e["type"] for e in first.events][0] == "conversation-created"
    runtime.llm.script_text("EngageUser", "Tell me more.")
    reply = (await interact(runtime, who, first.conversation_id, "I want to practise.")).raise_for_error()
    assert reply.agent_message == "Tell me more." and not reply.conversation_completed
    listed = await _messages(client, tenant, first.conversation_id)
    assert [(m["message_type"], m["message"]) for m in listed] == [
        ("agent-message", "Hello from the coach."),
        ("user-message", "I want to practise."),
        ("agent-message", "Tell me more."),
    ]
    assert {m["interaction_id"] for m in listed[1:]} == {reply.interaction_id}
    async with runtime.db.sessions() as s:
        user = await s.scalar(select(User).where(User.org_id == tenant.org_id, User.user_id == tenant.user_id))
        assert user.num_conversations == 1 and user.num_messages == 3


async def test_a_failed_in_process_turn_saves_nothing_and_frees_the_lease(client, tenant, runtime):
    svc = await make_service(client, tenant)
    who = await principal_for(runtime, tenant.org_id, tenant.user_id)
    first = (await start_conversation(runtime, who, svc.service_id)).raise_for_error()
    runtime.llm.fail("EngageUser")
    failed = await interact(runtime, who, first.conversation_id, "This one fails.")
    assert not failed.ok and failed.error is not None and failed.error["http_error_code"] >= 500
    with pytest.raises(TurnFailed):
        failed.raise_for_error()
    assert len(await _messages(client, tenant, first.conversation_id)) == 1
    again = (await interact(runtime, who, first.conversation_id, "Retry.")).raise_for_error()  # lease was released
    assert again.ok and len(await _messages(client, tenant, first.conversation_id)) == 3


async def test_in_process_turns_answer_like_the_api(client, tenant, runtime):
    svc = await make_service(client, tenant)
    who = await principal_for(runtime, tenant.org_id, tenant.user_id)
    first = (await start_conversation(runtime, who, svc.service_id)).raise_for_error()
    with pytest.raises(BadRequest):  # one unfinished conversation per user and service
        await start_conversation(runtime, who, svc.service_id)
    with pytest.raises(BadRequest):
        await interact(runtime, who, first.conversation_id, "   ")
    with pytest.raises(NotFound):
        await interact(runtime, who, "0" * 24, "Hello?")
    with pytest.raises(NotFound):
        await principal_for(runtime, tenant.org_id, "nobody-" + tenant.user_id)
    token = await lease.acquire(runtime.db.sessions, tenant.org_id, first.conversation_id)  # an HTTP turn in flight
    assert token is not None
    try:
        with pytest.raises(Conflict):
            await interact(runtime, who, first.conversation_id, "Hello?")
    finally:
        await lease.release(runtime.db.sessions, tenant.org_id, first.conversation_id, token)
    assert (await interact(runtime, who, first.conversation_id, "Hello?")).ok
