"""PostgreSQL connections are pinged only after being idle (``core.db.IDLE_PING_SECONDS``): a connection the server
closed while it sat in the pool is replaced before anyone uses it, and one used moments ago costs no round trip."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import text

from tertulia.core import db as dbmod

URL = os.environ.get("TERTULIA_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not URL.startswith("postgresql"),
                                reason="PostgreSQL only (set TERTULIA_TEST_DATABASE_URL; .ci/run's second pass does)")


async def test_a_connection_closed_while_idle_is_replaced_and_a_fresh_one_is_not_pinged(monkeypatch):
    monkeypatch.setattr(dbmod, "IDLE_PING_SECONDS", 0.2)
    database = dbmod.Database(URL)
    pings: list[int] = []
    try:
        async with database.sessions() as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
        adapted = await _adapted_connection_class(database)
        original = adapted.ping

        def counting(self):  # noqa: ANN001
            pings.append(1)
            return original(self)

        monkeypatch.setattr(adapted, "ping", counting)
        pings.clear()
        async with database.sessions() as session:  # used moments ago: no ping
            assert await session.scalar(text("SELECT pg_backend_pid()")) == pid
        assert pings == []
        other = dbmod.Database(URL)
        async with other.sessions() as session:  # the server closes the pooled connection
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await other.dispose()
        await asyncio.sleep(0.3)
        async with database.sessions() as session:  # idle: pinged, found dead, replaced
            assert await session.scalar(text("SELECT pg_backend_pid()")) != pid
        assert pings, "an idle connection is pinged before use"
    finally:
        await database.dispose()


async def _adapted_connection_class(database: dbmod.Database) -> type:
    """The class of the driver connection the pool hands its events (asyncpg's adapter)."""
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        return type(raw.dbapi_connection)
