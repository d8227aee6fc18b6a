"""The embedded SQLite driver (``core/sqlite_driver.py``): one call on aiosqlite's connection thread per write, none
per read (a SELECT runs on the event loop's thread), and still every DBAPI behaviour SQLAlchemy reads (rows, row
counts, last row ids, errors, rollback)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from tertulia.core.db import make_engine
from tertulia.core.sqlite_driver import OneHopConnection

metadata = sa.MetaData()
items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String, unique=True), sa.Column("n", sa.Integer))


@pytest.fixture
def engine(tmp_path: Path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    yield engine
    asyncio.run(engine.dispose())


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)


async def _hops(connection: sa.ext.asyncio.AsyncConnection, calls: list[str]) -> None:
    """Count the calls queued on the aiosqlite connection's thread (the real method still runs them)."""
    raw = (await connection.get_raw_connection()).dbapi_connection
    assert isinstance(raw, OneHopConnection)
    inner = raw._connection
    original = inner._execute

    async def spy(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(fn, *args, **kwargs)

    inner._execute = spy


def test_each_write_is_one_call_on_the_connection_thread_and_a_read_none(engine) -> None:  # noqa: ANN001
    async def scenario() -> list[str]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        calls: list[str] = []
        async with engine.connect() as connection:
            await _hops(connection, calls)
            await connection.execute(items.insert().values(name="a", n=1))
            await connection.execute(sa.select(items))
            await connection.execute(items.update().values(n=2))
            await connection.commit()
        return calls

    calls = run(scenario())
    assert calls == ["_run", "_run", "commit"]  # two writes and the commit: three hops (eleven with plain aiosqlite)


def test_rows_counts_last_row_ids_and_bulk_inserts(engine) -> None:  # noqa: ANN001
    async def scenario() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            first = await connection.execute(items.insert().values(name="a", n=1))
            assert first.inserted_primary_key == (1,)
            await connection.execute(items.insert(), [{"name": f"b{i}", "n": i} for i in range(5)])  # executemany
            updated = await connection.execute(items.update().where(items.c.n < 3).values(n=10))
            assert updated.rowcount == 4  # a, b0, b1, b2
            rows = (await connection.execute(sa.select(items.c.name, items.c.n).order_by(items.c.id))).all()
            assert rows == [("a", 10), ("b0", 10), ("b1", 10), ("b2", 10), ("b3", 3), ("b4", 4)]
            assert (await connection.execute(sa.select(items).where(items.c.n > 99))).first() is None
            returned = (await connection.execute(items.delete().where(items.c.n == 4).returning(items.c.name))).all()
            assert returned == [("b4",)]
            assert (await connection.execute(sa.select(sa.func.count()).select_from(items))).scalar_one() == 5

    run(scenario())


def test_a_failed_statement_raises_the_dbapi_error_and_rolls_back(engine) -> None:  # noqa: ANN001
    async def scenario() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(items.insert().values(name="a", n=1))
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(items.insert().values(name="c", n=3))
                await connection.execute(items.insert().values(name="a", n=2))  # unique name
        with pytest.raises(OperationalError):
            async with engine.connect() as connection:
                await connection.execute(sa.text("SELECT * FROM no_such_table"))
        async with engine.connect() as connection:  # the pool's connection still works; "c" was rolled back
            assert (await connection.execute(sa.select(items.c.name))).scalars().all() == ["a"]

    run(scenario())


def test_concurrent_connections_each_keep_their_own_results(engine) -> None:  # noqa: ANN001
    async def reader(k: int) -> list[int]:
        async with engine.connect() as connection:
            return (await connection.execute(sa.select(items.c.n).where(items.c.n % 4 == k).order_by(items.c.n)))\
                .scalars().all()

    async def scenario() -> list[list[int]]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(items.insert(), [{"name": str(i), "n": i} for i in range(40)])
        return await asyncio.gather(*(reader(k) for k in range(4)))

    for k, values in enumerate(run(scenario())):
        assert values == list(range(k, 40, 4))


def test_the_aiosqlite_attributes_the_driver_relies_on_exist() -> None:
    assert callable(getattr(aiosqlite.Connection, "_execute", None))
    assert "_conn" in aiosqlite.Connection.__dict__ or hasattr(aiosqlite.Connection, "_conn")


def test_ending_a_transaction_that_only_read_makes_no_trip_and_a_write_is_still_committed(engine) -> None:  # noqa: ANN001
    async def scenario() -> tuple[list[str], list[str], list[str], list[int]]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        calls: list[str] = []
        async with engine.connect() as connection:
            await _hops(connection, calls)
            await connection.execute(sa.select(items))
            await connection.commit()  # sqlite3 opened no transaction for a SELECT: nothing to end
            await connection.execute(sa.select(items))
            await connection.rollback()
            reads = list(calls)
            await connection.execute(items.insert().values(name="kept", n=1))
            await connection.commit()
            writes = calls[len(reads):]
            await connection.execute(items.insert().values(name="undone", n=2))
            await connection.rollback()
            undone = calls[len(reads) + len(writes):]
        async with engine.connect() as connection:
            seen = (await connection.execute(sa.select(items.c.n))).scalars().all()
        return reads, writes, undone, seen

    reads, writes, undone, seen = run(scenario())
    assert reads == []
    assert writes == ["_run", "commit"] and undone == ["_run", "rollback"]
    assert seen == [1]


def test_a_read_on_the_loop_thread_sees_its_own_transaction_and_not_another_uncommitted_one(engine) -> None:  # noqa: ANN001
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        async with engine.connect() as writer, engine.connect() as other:
            await writer.execute(items.insert().values(name="pending", n=1))
            own = (await writer.execute(sa.select(items.c.name))).scalars().all()
            outside = (await other.execute(sa.select(items.c.name))).scalars().all()
            await other.rollback()
            await writer.commit()
            after = (await other.execute(sa.select(items.c.name))).scalars().all()
        return own, outside, after

    own, outside, after = run(scenario())
    assert own == ["pending"] and outside == [] and after == ["pending"]
