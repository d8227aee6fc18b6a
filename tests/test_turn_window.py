"""A turn reads a bounded window of its conversation's transcript (what its prompts can see), so a long
conversation's turn costs what a short one's does; the turn still writes after the conversation's last message."""

from __future__ import annotations

from sqlalchemy import select

from tertulia.conversation.models import Message
from tertulia.turns import planning
from tests.support.conversation import interact, make_service, start


async def test_turns_past_the_window_keep_the_conversation_whole(client, tenant, runtime, monkeypatch):
    monkeypatch.setattr(planning, "TURN_TRANSCRIPT", 3)  # a window far smaller than the conversation
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    for k in range(5):
        runtime.llm.script_text("EngageUser", f"Reply {k}.")
        r = await interact(client, tenant, conversation_id, f"Message {k}")
        assert r.status_code == 200 and '"interaction-complete"' in r.text, r.text
    engage = [r for r in runtime.llm.requests if r.interaction == "EngageUser"][-1]
    prompt = "\n".join(m.content for m in engage.messages)
    assert "Message 4" in prompt and "Reply 3." in prompt  # the latest messages reach the prompt

    async with runtime.db.sessions() as s:
        rows = (await s.scalars(select(Message).where(Message.org_id == tenant.org_id,
                                                      Message.conversation_id == conversation_id)
                                .order_by(Message.position))).all()
    assert [r.position for r in rows] == list(range(len(rows)))  # one after the other: nothing overwritten
    visible = [r.message for r in rows if r.message_type != "agent-inner-thought"]
    assert visible[-10:] == [x for k in range(5) for x in (f"Message {k}", f"Reply {k}.")]
    listed = (await client.get(tenant.url(f"/conversation/{conversation_id}/messages/?limit=50"),
                               headers=tenant.headers)).json()
    assert len(listed["messages"]) == len(visible)


async def _prompts_of_a_long_conversation(client, tenant, runtime, turns: int, name: str) -> list[tuple[str, list[str]]]:
    svc = await make_service(client, tenant, name)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    for k in range(turns):
        runtime.llm.script_text("EngageUser", f"Reply {k}.")
        r = await interact(client, tenant, conversation_id, f"Message {k}")
        assert r.status_code == 200 and '"interaction-complete"' in r.text, r.text
    last = runtime.llm.requests[-5:]  # the last turn's requests (a plain turn makes 2)
    return [(r.interaction, [m.content for m in r.messages]) for r in last]


async def test_the_window_read_is_exactly_what_the_prompts_see(client, tenant, runtime, monkeypatch):
    """``TURN_TRANSCRIPT`` is the prompts' window: a turn deep into a conversation sends the same prompts whether its
    store read the window or the whole history (and the history is longer than the window)."""
    from tertulia.engine.prompts import TRANSCRIPT_WINDOW

    assert planning.TURN_TRANSCRIPT == TRANSCRIPT_WINDOW
    turns = TRANSCRIPT_WINDOW // 2 + 3  # 2+ messages per turn: the history outgrows the window
    windowed = await _prompts_of_a_long_conversation(client, tenant, runtime, turns, "Windowed")
    monkeypatch.setattr(planning, "TURN_TRANSCRIPT", 10_000)  # the whole history
    whole = await _prompts_of_a_long_conversation(client, tenant, runtime, turns, "Whole")
    assert "Message 0" not in "\n".join(c for _, contents in whole for c in contents)  # beyond the window
    assert windowed == whole
