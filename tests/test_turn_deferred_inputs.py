"""An interact's first event goes out before the turn reads its inputs, and what those reads leave out still holds.

* ``plan_interact`` reads only the conversation (and, with external events, its last message's time) before it takes
  the lease; the transcript, the active behaviors and the user are read by ``service.load_pending`` once the
  stream's first event is out (real database, statements observed on the engine).
* The recall queries a conversation has already run are carried on its row (``conversations.performed_queries``)
  instead of being rebuilt from every earlier interaction's replay; migration 0002 fills them for existing rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tertulia.engine.contract import StatePointer, TurnOutcome
from tertulia.migrations import upgrade
from tertulia.turns import service
from tertulia.turns.inprocess import principal_for, start_conversation
from tertulia.turns.pump import pump
from tertulia.turns.store_sql import SqlTurnStore

from tests.support.conversation import make_service


class Statements:
    """Every SQL statement the runtime's engine runs while recording."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        self.seen: list[str] = []
        self.engine = engine.sync_engine

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        self.seen.append(" ".join(statement.split()).lower())

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def reads_of(self, table: str) -> list[str]:
        return [s for s in self.seen if s.startswith("select") and f"from {table}" in s]


async def _plan(store, runtime, who, conversation_id: str, text: str = "Hello there", **extra):  # noqa: ANN001
    kwargs = dict(message_type="user-message", text=text, external_contents=[], external_timestamps=[],
                  response_format="text", action_type=None, emit=None)
    return await service.plan_interact(store, runtime, who, conversation_id, **{**kwargs, **extra})


async def test_the_first_event_goes_out_before_the_inputs_are_read(client, tenant, runtime):
    svc = await make_service(client, tenant)
    who = await principal_for(runtime, tenant.org_id, tenant.user_id)
    first = (await start_conversation(runtime, who, svc.service_id)).raise_for_error()
    store = SqlTurnStore(runtime.db, runtime.embedder)
    runtime.llm.script_text("EngageUser", "Noted.")
    with Statements(runtime.db.engine) as statements:
        plan = await _plan(store, runtime, who, first.conversation_id)
        before_stream = list(statements.seen)
        events = pump(runtime, store, plan)
        opening = await events.__anext__()
        at_first_event = list(statements.seen)
        rest = [e async for e in events]
    assert opening["type"] == "user-message-available" and opening["user_message"] == "Hello there"
    assert rest[-1]["type"] == "interaction-complete", rest[-1]
    # Before the first event: the conversation and the lease, nothing of the transcript, behaviors or user.
    assert at_first_event == before_stream
    assert not any("from messages" in s or "from users" in s or "from dynamic_behavior_sets" in s
                   for s in at_first_event), at_first_event
    assert any(s.startswith("update conversations set lock_token") for s in at_first_event), at_first_event
    # After it: the turn read them in ONE statement, then wrote the outcome; its user message named after the user.
    after = statements.seen[len(at_first_event):]
    outcome = next((i for i, s in enumerate(after) if s.startswith("update conversations")), None)
    assert outcome is not None, after
    reads = [s for s in after[:outcome] if s.startswith("select")]
    assert len(reads) == 1, reads
    assert all(f"from {table}" in reads[0] for table in ("messages", "users", "user_model_entries",
                                                         "dynamic_behavior_sets", "user_memories"))
    assert plan.request is not None and plan.new_messages[-1].sender
    r = await client.get(tenant.url(f"/conversation/{first.conversation_id}/messages/?sort_by=%2Bcreated_at"),
                         headers=tenant.headers)
    assert [m["message"] for m in r.json()["messages"]][-2:] == ["Hello there", "Noted."]


async def test_external_event_timestamps_are_checked_before_the_lease(client, tenant, runtime):
    svc = await make_service(client, tenant)
    who = await principal_for(runtime, tenant.org_id, tenant.user_id)
    first = (await start_conversation(runtime, who, svc.service_id)).raise_for_error()
    store = SqlTurnStore(runtime.db, runtime.embedder)
    too_early = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    from tertulia.core.errors import BadRequest

    with pytest.raises(BadRequest, match="after the conversation's last message"):
        await _plan(store, runtime, who, first.conversation_id, external_contents=["Lab results arrived"],
                    external_timestamps=[too_early])
    plan = await _plan(store, runtime, who, first.conversation_id)  # the refused request held no lease
    await store.release(plan)


async def test_recall_queries_are_carried_on_the_conversation(client, tenant, runtime):
    svc = await make_service(client, tenant)
    who = await principal_for(runtime, tenant.org_id, tenant.user_id)
    first = (await start_conversation(runtime, who, svc.service_id)).raise_for_error()
    store = SqlTurnStore(runtime.db, runtime.embedder)
    for ran in (["sleep hours"], ["Sleep hours", "coffee intake"], []):
        plan = await _plan(store, runtime, who, first.conversation_id)
        await service.load_pending(store, plan)
        state = StatePointer.from_json(plan.conversation.state)
        outcome = TurnOutcome(plan.agent_message_id, "Fine.", [], state, {}, None, None, False, performed_queries=ran)
        await store.save(plan, outcome)
    conversation = await store.conversation(tenant.org_id, first.conversation_id)
    assert conversation.performed_queries == ("sleep hours", "Sleep hours", "coffee intake")
    with Statements(runtime.db.engine) as statements:
        plan = await _plan(store, runtime, who, first.conversation_id)
        await service.load_pending(store, plan)
    assert plan.request.performed_queries == ["sleep hours", "Sleep hours", "coffee intake"]
    assert not statements.reads_of("interactions"), "a turn no longer reads the earlier interactions' replays"
    await store.release(plan)


def test_migration_0002_fills_performed_queries_from_the_replays(tmp_path):
    """On a SQLite file (the migration's SQL is the same on PostgreSQL)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    sync = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    now = datetime.now(UTC).isoformat()
    conversation = dict(user_id="u", service_id="s", version_set_info="{}", is_test=False, is_finished=False,
                        is_analyzed=False, completed_post_processings="[]", tags="{}", num_messages=0,
                        num_interactions=2, updated_at=now, org_id="o", created_at=now)
    with sync.begin() as conn:
        for cid in ("c1", "c2"):
            conn.execute(sa.text(
                "INSERT INTO conversations (id, user_id, service_id, version_set_info, is_test, is_finished, "
                "is_analyzed, completed_post_processings, tags, num_messages, num_interactions, updated_at, org_id, "
                "created_at) VALUES (:id, :user_id, :service_id, :version_set_info, :is_test, :is_finished, "
                ":is_analyzed, :completed_post_processings, :tags, :num_messages, :num_interactions, :updated_at, "
                ":org_id, :created_at)"), {**conversation, "id": cid})
        replays = [("i1", "c1", 0, ["sleep hours"]), ("i2", "c1", 1, ["coffee", "sleep hours"]), ("i3", "c2", 0, [])]
        for iid, cid, seq, queries in replays:
            conn.execute(sa.text(
                "INSERT INTO interactions (id, conversation_id, sequence, insights, replay, completed_at, org_id, "
                "created_at) VALUES (:id, :cid, :seq, '{}', :replay, :now, 'o', :now)"),
                {"id": iid, "cid": cid, "seq": seq, "replay": json.dumps({"performed_queries": queries}), "now": now})
    upgrade(url, "0002")
    with sync.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, performed_queries FROM conversations")).all())
    sync.dispose()
    assert json.loads(rows["c1"]) == ["sleep hours", "coffee"]
    assert rows["c2"] is None


async def test_the_one_statement_read_brings_every_input_back_whole(client, tenant, runtime):
    """Transcript order and times, the user's name, preferences and user model (oldest first, then its additional
    context), the returning-user and memory checks: as the separate reads gave them (``core.sqljson``)."""
    from sqlalchemy import update

    from tertulia.user.models import User, UserMemory, UserModelEntry

    svc = await make_service(client, tenant)
    who = await principal_for(runtime, tenant.org_id, tenant.user_id)
    first = (await start_conversation(runtime, who, svc.service_id)).raise_for_error()
    for text in ("one", "two", "three"):
        runtime.llm.script_text("EngageUser", f"reply to {text}")
        from tertulia.turns.inprocess import interact

        (await interact(runtime, who, first.conversation_id, text)).raise_for_error()
    now = datetime.now(UTC)
    async with runtime.db.unit_of_work() as session:
        await session.execute(update(User).where(User.org_id == tenant.org_id, User.user_id == tenant.user_id).values(
            first_name="Ada", last_name="Lovelace", preferences={"preferred_language": "eng", "n": [1, 2]},
            additional_context=["Prefers mornings"]))
        session.add_all([
            UserModelEntry(org_id=tenant.org_id, user_id=tenant.user_id, content="newer", updated_at=now),
            UserModelEntry(org_id=tenant.org_id, user_id=tenant.user_id, content="older",
                           updated_at=now - timedelta(hours=1)),
            UserMemory(org_id=tenant.org_id, user_id=tenant.user_id, conversation_id=first.conversation_id,
                       content="Likes tea", context="diet"),
        ])
    store = SqlTurnStore(runtime.db, runtime.embedder)
    conversation = await store.conversation(tenant.org_id, first.conversation_id)
    inputs = await store.load(conversation, recent=4)
    texts = [m.text for m in inputs.transcript if m.message_type in ("user-message", "agent-message")]
    assert texts == ["two", "reply to two", "three", "reply to three"]
    assert [m.position for m in inputs.transcript] == sorted(m.position for m in inputs.transcript)
    assert all(m.created_at.tzinfo is not None for m in inputs.transcript)
    assert inputs.transcript[-1].created_at <= datetime.now(UTC)
    assert inputs.user.display_name == "Ada Lovelace"
    assert inputs.user.preferences == {"preferred_language": "eng", "n": [1, 2]}
    assert inputs.user_model == ["older", "newer", "Prefers mornings"]
    assert inputs.is_returning_user is False and inputs.memories.known_any is True
    assert list(inputs.replays) == [first.interaction_id, *list(inputs.replays)[1:]] and len(inputs.replays) == 4
    whole = await store.load(conversation)
    assert len(whole.transcript) == 7 and whole.transcript[0].text.startswith(first.agent_message[:5])


async def test_inputs_that_cannot_be_read_after_the_first_event_fail_the_turn_in_band_and_free_the_lease(
    client, tenant, runtime
):
    """The status line is out when the inputs are read: a failure there is an ``error`` event, nothing of the turn is
    written and the lease is free again (the ``TurnStore`` port failing as a database can)."""
    from tertulia.turns.inprocess import interact

    class FailingReads(SqlTurnStore):
        async def load(self, *args, **kwargs):  # noqa: ANN002, ANN003
            raise ConnectionError("database went away")

    svc = await make_service(client, tenant)
    who = await principal_for(runtime, tenant.org_id, tenant.user_id)
    first = (await start_conversation(runtime, who, svc.service_id)).raise_for_error()
    store = FailingReads(runtime.db, runtime.embedder)
    plan = await _plan(store, runtime, who, first.conversation_id)
    events = [e async for e in pump(runtime, store, plan)]
    assert [e["type"] for e in events] == ["user-message-available", "error"]
    assert events[-1]["http_error_code"] == 500
    runtime.llm.script_text("EngageUser", "Back again.")
    again = (await interact(runtime, who, first.conversation_id, "Retry")).raise_for_error()  # the lease is free
    r = await client.get(tenant.url(f"/conversation/{first.conversation_id}/messages/?sort_by=%2Bcreated_at"),
                         headers=tenant.headers)
    assert [m["message"] for m in r.json()["messages"]][1:] == ["Retry", "Back again."]
    assert again.ok
