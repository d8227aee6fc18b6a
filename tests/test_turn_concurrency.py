"""More concurrent turns than the database pool has connections: every one completes (a turn's request never holds
one pooled connection while it waits for another for its lease, which would deadlock a full pool)."""

from __future__ import annotations

import asyncio

from tests.support.conversation import create, events_of, make_service


async def test_more_concurrent_creates_than_pooled_connections(client, tenant, runtime):
    pool = runtime.db.engine.pool
    concurrent = pool.size() + max(0, pool._max_overflow) + 3  # noqa: SLF001 - the pool's bound is what is tested
    services = [await make_service(client, tenant, f"Pool {i}") for i in range(concurrent)]
    responses = await asyncio.wait_for(
        asyncio.gather(*(create(client, tenant, svc.service_id) for svc in services)), timeout=25
    )  # a deadlocked pool would wait for its 30 s checkout timeout, then answer 500
    assert [r.status_code for r in responses] == [201] * concurrent, [r.text[:200] for r in responses]
    assert all(events_of(r)[-1]["type"] == "interaction-complete" for r in responses)
