"""``core.db.core_batch``: a unit that only writes through ``run_core``. On SQLite its statements run, COMMIT
included, in one trip to the connection's thread at the end of the block; a guarded statement (``expect_rows``)
that changes another number of rows, an error, or a block that raises leaves nothing. With a statement listener
(tracing) they run one by one with the same guards. PostgreSQL: the same contract as a plain ``core_unit``."""

from __future__ import annotations

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from tertulia.core.db import Database, core_batch, run_core
from tertulia.core.prepared import StaleWrite
from tests.support.scratch_tables import scratch_tables

metadata = sa.MetaData()
rows = sa.Table("batch_rows", metadata, sa.Column("id", sa.String(8), primary_key=True),
                sa.Column("n", sa.Integer, nullable=False))
ADD = rows.insert()
BUMP = rows.update().where(rows.c.id == sa.bindparam("b_id")).values(n=rows.c.n + 1)


@pytest.fixture(params=["trip", "listened"])
async def database(request, database_url: str):
    async with scratch_tables(database_url, metadata, {rows: [{"id": "a", "n": 1}]}) as db:
        if request.param == "listened":  # what tracing's SQLAlchemy instrumentation does: listen to statements
            listener = lambda *args: None  # noqa: E731
            event.listen(db.engine.sync_engine, "before_cursor_execute", listener)
        yield db


async def _all(db: Database) -> dict[str, int]:
    async with db.engine.connect() as connection:
        return dict((await connection.execute(sa.select(rows.c.id, rows.c.n))).all())


async def test_the_statements_commit_together(database: Database) -> None:
    async with core_batch(database.sessions, write=True) as unit:
        await run_core(unit, BUMP, {"b_id": "a"}, expect_rows=1)
        await run_core(unit, ADD, [{"id": "b", "n": 5}, {"id": "c", "n": 6}])
    assert await _all(database) == {"a": 2, "b": 5, "c": 6}


async def test_a_failed_guard_rolls_everything_back(database: Database) -> None:
    with pytest.raises(StaleWrite):
        async with core_batch(database.sessions, write=True) as unit:
            await run_core(unit, ADD, {"id": "b", "n": 5})
            await run_core(unit, BUMP, {"b_id": "nobody"}, expect_rows=1)
            await run_core(unit, ADD, {"id": "c", "n": 6})
    assert await _all(database) == {"a": 1}


async def test_an_error_rolls_everything_back_as_an_sqlalchemy_error(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with core_batch(database.sessions, write=True) as unit:
            await run_core(unit, BUMP, {"b_id": "a"}, expect_rows=1)
            await run_core(unit, ADD, {"id": "a", "n": 9})  # duplicate key
    assert await _all(database) == {"a": 1}
    async with core_batch(database.sessions, write=True) as unit:  # the connection is usable again
        await run_core(unit, BUMP, {"b_id": "a"}, expect_rows=1)
    assert await _all(database) == {"a": 2}


async def test_a_block_that_raises_runs_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with core_batch(database.sessions, write=True) as unit:
            await run_core(unit, BUMP, {"b_id": "a"}, expect_rows=1)
            raise RuntimeError("the turn failed after queueing its outcome")
    assert await _all(database) == {"a": 1}


async def test_one_trip_to_the_connection_thread_on_sqlite(database_url: str, monkeypatch) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the trip to aiosqlite's thread exists on SQLite only")
    async with scratch_tables(database_url, metadata, {rows: [{"id": "a", "n": 1}]}) as db:
        async with core_batch(db.sessions, write=True) as unit:  # warm: the pool's connection is open
            await run_core(unit, BUMP, {"b_id": "a"}, expect_rows=1)
        trips: list[str] = []
        execute = aiosqlite.Connection._execute

        async def counted(self, fn, *args, **kwargs):  # noqa: ANN001, ANN202 - observes, then calls through
            trips.append(getattr(fn, "__name__", repr(fn)))
            return await execute(self, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with core_batch(db.sessions, write=True) as unit:
            await run_core(unit, BUMP, {"b_id": "a"}, expect_rows=1)
            await run_core(unit, ADD, [{"id": "b", "n": 5}, {"id": "c", "n": 6}])
            await run_core(unit, BUMP, {"b_id": "b"}, expect_rows=1)
        monkeypatch.undo()
        assert trips == ["_run_batch"], trips
        assert await _all(db) == {"a": 3, "b": 6, "c": 6}
