"""A streamed turn reads its inputs on a plain connection (``core.db.read_connection``): one statement when the
behavior versions it needs are cached, and the same inputs, read through an ORM session, when one is not."""

from __future__ import annotations

from sqlalchemy import event

from tertulia.service import resolution
from tertulia.turns.store_sql import SqlTurnStore
from tests.support.conversation import make_service, start
from tests.test_dynamic_behavior_set import SAFETY, _create


async def _read(runtime, org_id: str, conversation_id: str):  # noqa: ANN202
    store = SqlTurnStore(runtime.db)  # no request session: the streamed turn's own store
    conv = await store.conversation(org_id, conversation_id)
    versions = await store.versions(conv)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", listener)
    try:
        inputs = await store.load(conv, recent=10, versions=versions, replays=False)
    finally:
        event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", listener)
    return inputs, statements


async def test_inputs_on_a_connection_with_and_without_cached_versions(client, tenant, runtime):
    service = await make_service(client, tenant)
    r = await _create(client, tenant, "Safety", [service.service_id])
    assert r.status_code in (200, 201), r.text
    set_id = r.json()["dynamic_behavior_set_id"]
    conversation_id, _ = await start(client, tenant, service.service_id)

    resolution._versions.rows.clear()  # cold: the version row must be read (through a session)
    cold, cold_sql = await _read(runtime, tenant.org_id, conversation_id)
    warm, warm_sql = await _read(runtime, tenant.org_id, conversation_id)

    for inputs in (cold, warm):
        [behavior] = inputs.versions.behaviors
        assert (behavior.set_id, behavior.version) == (set_id, 1)
        assert behavior.conversation_triggers == SAFETY["conversation_triggers"]
        assert [m.message_type for m in inputs.transcript] == [m.message_type for m in cold.transcript]
        assert inputs.transcript and inputs.user is not None
    assert len(cold_sql) == 2, cold_sql  # the inputs, then the missing version row
    assert len(warm_sql) == 1, warm_sql  # the inputs alone
