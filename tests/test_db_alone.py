"""``core.db.execute_alone`` and ``core.db.read_session``: one statement as its own transaction and reads outside a
unit of work; on PostgreSQL without BEGIN/COMMIT round trips (AUTOCOMMIT), without leaking that mode to the pool."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tertulia.core.db import Database, changed_alone, execute_alone, read_session
from tests.support.scratch_tables import scratch_tables

metadata = sa.MetaData()
counters = sa.Table("alone_counters", metadata, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("n", sa.Integer, nullable=False))


@pytest.fixture
async def database(database_url: str):
    async with scratch_tables(database_url, metadata, {counters: [{"id": i, "n": 0} for i in range(3)]}) as db:
        yield db


async def _now_twice(session) -> tuple:  # noqa: ANN001
    first = await session.scalar(sa.select(sa.func.now()))
    await asyncio.sleep(0.02)
    return first, await session.scalar(sa.select(sa.func.now()))


async def test_one_statement_commits_by_itself_and_reports_its_row_count(database: Database) -> None:
    bump = counters.update().where(counters.c.id < sa.bindparam("below")).values(n=counters.c.n + 1)
    result = await execute_alone(database.sessions, bump, {"below": 2}, write=True)
    assert result.rowcount == 2
    async with database.sessions() as other:  # another connection sees it at once: committed
        assert (await other.execute(sa.select(counters.c.n).order_by(counters.c.id))).scalars().all() == [1, 1, 0]


async def test_a_failing_statement_changes_nothing(database: Database) -> None:
    with pytest.raises(IntegrityError):
        await execute_alone(database.sessions, counters.insert(), [{"id": 5, "n": 1}, {"id": 0, "n": 9}], write=True)
    async with database.sessions() as session:
        assert (await session.execute(sa.select(counters.c.id).order_by(counters.c.id))).scalars().all() == [0, 1, 2]


async def test_a_keyed_statement_alone_says_whether_it_changed_its_row_and_keeps_it_only_then(database: Database) -> None:
    claim = (counters.update().where(counters.c.id == sa.bindparam("key"), counters.c.n == 0)
             .values(n=sa.bindparam("value")))
    assert await changed_alone(database.sessions, claim, {"key": 1, "value": 7}, write=True) is True
    assert await changed_alone(database.sessions, claim, {"key": 1, "value": 8}, write=True) is False  # taken
    assert await changed_alone(database.sessions, claim, {"key": 9, "value": 8}, write=True) is False  # no such row
    async with database.sessions() as other:  # committed, and only the first claim
        assert (await other.execute(sa.select(counters.c.n).order_by(counters.c.id))).scalars().all() == [0, 7, 0]


async def test_reads_outside_a_unit_of_work_and_the_pool_keeps_its_transactions(database: Database) -> None:
    async with read_session(database.sessions) as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(counters))).scalar_one() == 3
        separate = await _now_twice(session) if database.engine.dialect.name == "postgresql" else None
    if separate is not None:  # AUTOCOMMIT: each statement is its own transaction, with its own now()
        assert separate[0] != separate[1]
    for _ in range(3):  # every pooled connection is back in transactional mode: one now() per transaction
        async with database.unit_of_work() as session:
            if database.engine.dialect.name == "postgresql":
                first, second = await _now_twice(session)
                assert first == second
            await session.execute(counters.update().where(counters.c.id == 0).values(n=counters.c.n + 1))
    with pytest.raises(RuntimeError):
        async with database.unit_of_work() as session:
            await session.execute(counters.update().values(n=100))
            raise RuntimeError("rolled back")
    async with database.sessions() as session:
        assert (await session.execute(sa.select(counters.c.n).order_by(counters.c.id))).scalars().all() == [3, 0, 0]
