"""The version caches of service resolution: immutable versions are served from the process's cache, and every change
through the API (a new version, a set switched off or moved to another service, a set deleted) is seen at once,
including when it is made by another process (another database connection, nothing shared in memory)."""

from __future__ import annotations

from sqlalchemy import event

from tertulia.core.db import Database
from tertulia.service import resolution
from tests.test_dynamic_behavior_set import BASE, SAFETY, _create, _service
from tests.test_service import make_agent


async def behaviors(runtime, org_id: str, service_id: str):
    async with runtime.db.sessions() as session:
        return await resolution.active_behaviors(session, org_id, service_id)


async def test_behavior_versions_come_from_the_cache_and_changes_show_at_once(client, tenant, runtime):
    h = tenant.headers
    service_id = await _service(client, tenant, "Cached")
    other_service = await _service(client, tenant, "Elsewhere")
    set_id = (await _create(client, tenant, "Safety", [service_id])).json()["dynamic_behavior_set_id"]

    [first] = await behaviors(runtime, tenant.org_id, service_id)
    assert (first.set_id, first.version, first.conversation_triggers) == (set_id, 1, SAFETY["conversation_triggers"])
    first.conversation_triggers.append("changed by the caller")  # a caller's change never reaches the cache
    first.actions[0]["instruction"] = "tampered"

    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", listener)
    try:
        [again] = await behaviors(runtime, tenant.org_id, service_id)
    finally:
        event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", listener)
    assert again.conversation_triggers == SAFETY["conversation_triggers"]
    assert again.actions == SAFETY["actions"]
    assert len(statements) == 1  # only which sets apply at which latest version; the version row is cached

    # a new version, created through the API: the next resolution runs on it
    r = await client.post(tenant.url(f"{BASE}{set_id}/version/"), headers=h, json={
        "conversation_triggers": ["The user asks about sleep"],
        "actions": [{"type": "inject-instruction", "instruction": "Talk about sleep.", "overrides_instructions": False}]})
    assert r.status_code in (200, 201), r.text
    [second] = await behaviors(runtime, tenant.org_id, service_id)
    assert (second.version, second.conversation_triggers) == (2, ["The user asks about sleep"])
    assert second.actions[0]["instruction"] == "Talk about sleep."

    # moved to another service, then switched off, then deleted: gone at once each time
    moved = await client.post(tenant.url(f"{BASE}{set_id}/"), json={"applied_to_services": [other_service]}, headers=h)
    assert moved.status_code == 204, moved.text
    assert await behaviors(runtime, tenant.org_id, service_id) == []
    assert [b.version for b in await behaviors(runtime, tenant.org_id, other_service)] == [2]
    off = await client.post(tenant.url(f"{BASE}{set_id}/"), json={"is_active": False}, headers=h)
    assert off.status_code == 204, off.text
    assert await behaviors(runtime, tenant.org_id, other_service) == []
    assert (await client.delete(tenant.url(f"{BASE}{set_id}/"), headers=h)).status_code == 200
    assert await behaviors(runtime, tenant.org_id, other_service) == []


async def test_a_version_created_by_another_process_is_used_by_the_next_turn(client, tenant, runtime):
    service_id = await _service(client, tenant, "Shared")
    set_id = (await _create(client, tenant, "Safety", [service_id])).json()["dynamic_behavior_set_id"]
    assert [b.version for b in await behaviors(runtime, tenant.org_id, service_id)] == [1]  # cached here now

    # "another process": its own engine and connections, writing a new version the way its API would
    from tertulia.dynamic_behavior_set import service as dbs

    other = Database(runtime.db.url)
    try:
        async with other.unit_of_work() as session:
            await dbs.create_version(session, tenant.org_id, {"org_id": tenant.org_id, "user_id": tenant.user_id},
                                     set_id, _version_body(["Written by the other process"]), None)
    finally:
        await other.dispose()
    [seen] = await behaviors(runtime, tenant.org_id, service_id)
    assert (seen.version, seen.conversation_triggers) == (2, ["Written by the other process"])


def _version_body(triggers: list[str]):
    from tertulia.dynamic_behavior_set.schemas import CreateDynamicBehaviorSetVersionRequest

    return CreateDynamicBehaviorSetVersionRequest(conversation_triggers=triggers, actions=[
        {"type": "inject-instruction", "instruction": "From elsewhere.", "overrides_instructions": False}])


async def test_cached_agent_versions_are_copies(client, tenant, runtime):
    agent_id = await make_agent(client, tenant, "Copy agent")
    async with runtime.db.sessions() as session:
        _, body = await resolution.load_agent_version(session, tenant.org_id, agent_id, 1)
        body["identity"] = {"name": "tampered"}
        _, cached = await resolution.load_agent_version(session, tenant.org_id, agent_id, 1)
    assert cached["identity"] != {"name": "tampered"}
