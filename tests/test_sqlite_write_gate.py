"""SQLite's write gate: the process's named write transactions (``unit_of_work(write=True)``: the lease, a turn's
outcome) run one at a time instead of colliding on SQLite's file lock; other units of work are not gated."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tertulia.core.db import Database


async def _peak(db: Database, write: bool, n: int = 6) -> int:
    inside = peak = 0

    async def unit(i: int) -> None:
        nonlocal inside, peak
        async with db.unit_of_work(write=write) as session:
            inside += 1
            peak = max(peak, inside)
            if write:
                await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": i})
            else:
                await session.execute(text("SELECT count(*) FROM t"))
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(unit(i) for i in range(n)))
    return peak


async def test_sqlite_write_units_run_one_at_a_time_and_all_commit(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")
    try:
        async with db.unit_of_work() as session:
            await session.execute(text("CREATE TABLE t (v INTEGER)"))
        assert await _peak(db, write=True) == 1
        assert await _peak(db, write=False) > 1  # reads (and ungated units) still overlap
        async with db.unit_of_work() as session:
            assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 6
    finally:
        await db.dispose()


async def test_a_failed_write_unit_rolls_back_and_frees_the_gate(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")
    try:
        async with db.unit_of_work() as session:
            await session.execute(text("CREATE TABLE t (v INTEGER)"))
        try:
            async with db.unit_of_work(write=True) as session:
                await session.execute(text("INSERT INTO t (v) VALUES (1)"))
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        async with asyncio.timeout(5):  # the gate was released: the next write unit gets in
            async with db.unit_of_work(write=True) as session:
                await session.execute(text("INSERT INTO t (v) VALUES (2)"))
        async with db.unit_of_work() as session:
            assert (await session.execute(text("SELECT v FROM t"))).scalars().all() == [2]
    finally:
        await db.dispose()
