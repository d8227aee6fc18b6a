"""``core.prepared`` (``core.db.run_core``'s fast path): prebuilt statements run on the driver give what
``Connection.execute`` gives (row counts, typed rows, Python-side defaults, ``sqlalchemy.exc`` errors), inside the
session's transaction (a rollback undoes them), and statement listeners still see them. Real SQLite/PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tertulia.core import prepared
from tertulia.core.db import JSONType, UTCDateTime, Database, run_core
from tests.support.scratch_tables import scratch_tables

metadata = sa.MetaData()
items = sa.Table(
    "prepared_items", metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False, default=7),
    sa.Column("doc", JSONType, default=dict),
    sa.Column("at", UTCDateTime, nullable=True),
    sa.Column("touched", sa.String(8), default="new", onupdate=lambda: "updated"),
)
INSERT = items.insert()
BUMP = (items.update().where(items.c.id == sa.bindparam("b_id"))
        .values(n=items.c.n + sa.bindparam("by"), doc=sa.bindparam("b_doc", type_=items.c.doc.type)))
READ = sa.select(items.c.id, items.c.n, items.c.doc, items.c.at, items.c.touched).where(
    items.c.id == sa.bindparam("b_id"))
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
async def database(database_url: str):
    async with scratch_tables(database_url, metadata) as db:
        yield db


async def test_writes_and_reads_like_connection_execute(database: Database) -> None:
    async with database.unit_of_work(write=True) as session:
        await run_core(session, INSERT, [{"id": "a", "at": AT}, {"id": "b", "n": 1, "doc": {"k": [1, 2]}, "at": None}])
        moved = await run_core(session, BUMP, {"b_id": "a", "by": 5, "b_doc": {"x": "é"}})
        missing = await run_core(session, BUMP, {"b_id": "zz", "by": 5, "b_doc": {}})
    assert (moved.rowcount, missing.rowcount) == (1, 0)
    async with database.sessions() as session:
        a = (await run_core(session, READ, {"b_id": "a"})).one()
        b = (await run_core(session, READ, {"b_id": "b"})).first()
        none = (await run_core(session, READ, {"b_id": "zz"})).first()
        expected = (await session.execute(READ, {"b_id": "a"})).one()  # SQLAlchemy's own path
    assert tuple(a) == tuple(expected) == ("a", 12, {"x": "é"}, AT, "updated")  # defaults, onupdate, JSON, UTC
    assert a.at.tzinfo is not None and a.doc == {"x": "é"} and a.touched == "updated"
    assert tuple(b) == ("b", 1, {"k": [1, 2]}, None, "new") and none is None


async def test_a_rollback_undoes_them_and_errors_are_sqlalchemy_errors(database: Database) -> None:
    async with database.unit_of_work(write=True) as session:
        await run_core(session, INSERT, {"id": "a"})
    with pytest.raises(RuntimeError):
        async with database.unit_of_work(write=True) as session:
            await run_core(session, INSERT, {"id": "b"})
            await run_core(session, BUMP, {"b_id": "a", "by": 1, "b_doc": {}})
            raise RuntimeError("the turn failed")
    with pytest.raises(IntegrityError):
        async with database.unit_of_work(write=True) as session:
            await run_core(session, BUMP, {"b_id": "a", "by": 1, "b_doc": {}})
            await run_core(session, INSERT, {"id": "a"})  # duplicate key: the whole unit of work goes
    async with database.sessions() as session:
        rows = (await session.execute(sa.select(items.c.id, items.c.n))).all()
    assert [tuple(r) for r in rows] == [("a", 7)]


async def test_the_fast_path_is_taken_and_statement_listeners_get_sqlalchemys(database: Database) -> None:
    async with database.unit_of_work(write=True) as session:
        fast = await run_core(session, INSERT, {"id": "z"})
    assert isinstance(fast, prepared.Result)  # not SQLAlchemy's CursorResult: the driver was called directly
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001, ARG001
        assert context is not None  # OpenTelemetry's instrumentation keeps its span on it
        seen.append(statement.split()[0].upper())

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with database.unit_of_work(write=True) as session:
            result = await run_core(session, INSERT, {"id": "a"})
            await run_core(session, BUMP, {"b_id": "a", "by": 1, "b_doc": {}})
    finally:
        sa.event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert not isinstance(result, prepared.Result) and result.rowcount == 1
    assert seen == ["INSERT", "UPDATE"]


async def test_a_missing_parameter_is_refused_before_the_driver(database: Database) -> None:
    with pytest.raises(sa.exc.InvalidRequestError, match="b_id"):
        async with database.unit_of_work(write=True) as session:
            await run_core(session, BUMP, {"by": 1, "b_doc": {}})


async def test_statements_after_a_commit_or_rollback_run_in_the_next_transaction(database: Database) -> None:
    async with database.sessions() as session:  # run_core reuses a transaction's connection, never a later one's
        await run_core(session, INSERT, {"id": "a"})
        await session.commit()
        await run_core(session, INSERT, {"id": "b"})
        await session.rollback()
        await run_core(session, INSERT, {"id": "c"})
        await session.commit()
    async with database.sessions() as session:
        assert (await session.execute(sa.select(items.c.id).order_by(items.c.id))).scalars().all() == ["a", "c"]
