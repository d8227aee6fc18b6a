"""Storage: SQLAlchemy 2 async engine, session factory and the declarative base.

SQLite (aiosqlite) is the embedded default and PostgreSQL (asyncpg) the production store; every model uses
only portable column types (``UTCDateTime``, ``JSONType``) so the same schema and queries run on both.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, MetaData, String, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from tertulia.core import prepared
from tertulia.core.clock import utcnow
from tertulia.core.ids import new_object_id
from tertulia.core.sqlite_driver import one_hop_dbapi

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

class JSONType(TypeDecorator):
    """JSON on SQLite, JSONB on PostgreSQL."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime on both backends (SQLite drops tzinfo; this puts UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}


class OrgScoped:
    """Columns every tenant-owned row carries: an ObjectId primary key and the owning organization."""

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_object_id)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def json_text(value: Any) -> str:
    """A JSON column's text: orjson (a turn writes five JSON values; ``json.dumps`` cost 4x as much), with
    ``json.dumps`` for what orjson refuses (an integer beyond 64 bits from a client's JSON, a key that is no string
    or number), so nothing that was storable before fails now."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str) -> AsyncEngine:
    # JSON columns are read and written on every turn (replays, versions, the outcome)
    kwargs: dict[str, Any] = {"json_deserializer": orjson.loads, "json_serializer": json_text}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
        # Every session and connection ends its own transaction (``unit_of_work`` commits or rolls back; closing a
        # session or connection rolls back what it began), so the pool's extra ROLLBACK on check-in is redundant;
        # on aiosqlite it costs a thread hop per check-in, a few of which every turn makes.
        kwargs["pool_reset_on_return"] = None
        if url.startswith("sqlite+aiosqlite"):
            kwargs["module"] = one_hop_dbapi()  # one thread hop per write, none per read (``core.sqlite_driver``)
            # Reads run on the event loop's thread: the connection is shared by that thread and aiosqlite's (never
            # at once: SQLAlchemy hands a connection to one task at a time, and each hop is awaited).
            kwargs["connect_args"]["check_same_thread"] = False
            # Enough pooled connections for the concurrent turns of one process (each holds one or two for a few
            # ms): an overflow connection is closed on check-in, and opening one costs a thread and four PRAGMAs.
            kwargs.update(pool_size=20, max_overflow=20)
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(url, **kwargs)
    if not url.startswith("sqlite"):
        _ping_when_idle(engine)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


# A pooled connection unused for longer than this is pinged before it is handed out (a server restart or an idle
# timeout closes connections). One used moments ago is not: a turn checks out several connections in a few
# milliseconds, and pinging each (``pool_pre_ping``) cost a round trip apiece.
IDLE_PING_SECONDS = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:  # the pool drops this connection and hands out a fresh one
            raise DisconnectionError() from exc


_WRITE_GATES: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _write_gate(sessions: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    """SQLite only: one lock per engine and event loop that the process's named write transactions queue on.

    SQLite admits one writer at a time; two write transactions that overlap make the second wait in SQLite's busy
    handler, which sleeps in steps of up to 100 ms. Queueing them here first turns those sleeps into a FIFO wait
    (20 concurrent turns on one process: p99 12x p50 before, see benchmarks/README.md). PostgreSQL: no gate."""
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        return None
    per_loop = _WRITE_GATES.setdefault(bind.sync_engine, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    gate = per_loop.get(loop)
    if gate is None:
        gate = per_loop[loop] = asyncio.Lock()
    return gate


@asynccontextmanager
async def _gated(sessions: async_sessionmaker[AsyncSession], write: bool) -> AsyncIterator[None]:
    """Hold SQLite's write gate for the block when ``write`` (nothing on PostgreSQL, or for a unit that only reads)."""
    gate = _write_gate(sessions) if write else None
    if gate is None:
        yield
        return
    async with gate:
        yield


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession], *, write: bool = False) -> AsyncIterator[AsyncSession]:
    """One transaction: commit once when the block completes, roll back when it raises.

    This is THE place work is committed. Use cases and repositories only ``flush``; the request's session
    dependency (``auth.deps.get_session``), the job queue and the conversation lease open their units of work
    here (or commit their own short, named transactions). An error raised inside the block rolls everything back.

    ``write=True`` marks a short transaction that is known to write (the lease, a turn's outcome): on SQLite it
    first queues on the process's write gate (never nest two of them).
    """
    async with _gated(sessions, write), sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


@asynccontextmanager
async def core_unit(sessions: async_sessionmaker[AsyncSession], *, write: bool = False) -> AsyncIterator[AsyncConnection]:
    """``unit_of_work`` without an ORM session, for a unit whose statements all go through ``run_core`` (a plain
    turn's outcome, the lease on SQLite): one transaction on a pooled connection, committed once when the block
    completes, rolled back when it raises; ``write`` queues on SQLite's write gate as ``unit_of_work`` does. Creating,
    committing and closing an ORM session costs about as much CPU as a prepared statement."""
    async with _gated(sessions, write), sessions.kw["bind"].begin() as connection:
        yield connection


@asynccontextmanager
async def core_batch(sessions: async_sessionmaker[AsyncSession], *, write: bool = False) -> AsyncIterator[Any]:
    """``core_unit`` for a unit that only writes through ``run_core`` and reads nothing back but guarded row counts
    (``expect_rows``): on SQLite its statements are queued and run, COMMIT included, in ONE trip to the connection's
    thread when the block completes (``prepared.Batch``); elsewhere it is ``core_unit``. A guard that fails raises
    ``prepared.StaleWrite`` with everything rolled back, as an error does; a block that raises runs nothing."""
    if _postgres_bind(sessions) is not None:
        async with core_unit(sessions, write=write) as connection:
            yield connection
        return
    async with _gated(sessions, write), sessions.kw["bind"].connect() as connection:
        batch = prepared.Batch(connection)
        yield batch
        await batch.flush()


_HELD = "tertulia.core.db.run_core"  # session.info key: (the session's transaction, its connection)


async def run_core(session: AsyncSession | AsyncConnection | prepared.Batch, statement: Any, params: Any = None, *,
                   expect_rows: int | None = None) -> Any:
    """Run a prebuilt Core statement (built on ``Table`` columns) on the session's connection, inside its
    transaction, past the ORM's execution layer and, on the shipped drivers, past SQLAlchemy's per-statement
    execution context too (``core.prepared``: compiled once, run on the driver). For the per-turn statements:
    through ``session.execute`` the ORM re-annotates a DML statement on every call, so SQLAlchemy re-derives its
    cache key each time. Given a ``core_unit``'s connection, on that connection; given a ``core_batch``'s batch,
    queued (None is returned). ``expect_rows``: the number of rows the statement must change, else
    ``prepared.StaleWrite`` (raised inside the unit, which then rolls back)."""
    if isinstance(session, prepared.Batch):
        session.add(statement, params, expect_rows)
        return None
    if isinstance(session, AsyncConnection):
        done = await prepared.execute(session, statement, params)
    else:
        done = await _run_in_session(session, statement, params)
    prepared.guard(done.rowcount, expect_rows)
    return done


async def _run_in_session(session: AsyncSession, statement: Any, params: Any) -> Any:
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_HELD)
    if held is not None and transaction is not None and held[0] is transaction and transaction.is_active:
        connection = held[1]  # the transaction's connection: no trip through the greenlet bridge to ask again
    else:
        connection = await session.connection()
        session.info[_HELD] = (session.sync_session.get_transaction(), connection)
    return await prepared.execute(connection, statement, params)


def _postgres_bind(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    bind = sessions.kw.get("bind")
    return bind if isinstance(bind, AsyncEngine) and bind.dialect.name != "sqlite" else None


@asynccontextmanager
async def _autocommit(bind: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled connection in AUTOCOMMIT mode (the pool puts it back in transactional mode when it is returned)."""
    async with bind.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


async def execute_alone(sessions: async_sessionmaker[AsyncSession], statement: Any, params: Any = None, *,
                        write: bool = False) -> Any:
    """ONE prebuilt Core statement as a transaction of its own (the lease's conditional UPDATE): its result, with
    ``rowcount``. A single statement is atomic by itself, so on PostgreSQL it runs on an AUTOCOMMIT connection:
    one round trip instead of BEGIN, the statement and COMMIT. On SQLite it is a ``core_unit`` (``write``: behind
    the write gate), which costs no extra round trip there."""
    bind = _postgres_bind(sessions)
    if bind is None:
        async with core_unit(sessions, write=write) as connection:
            return await prepared.execute(connection, statement, params)
    async with _autocommit(bind) as connection:
        return await prepared.execute(connection, statement, params)


async def changed_alone(sessions: async_sessionmaker[AsyncSession], statement: Any, params: Any = None, *,
                        write: bool = False) -> bool:
    """ONE prebuilt Core statement keyed to one row (the lease's conditional UPDATE) as a transaction of its own:
    True when it changed that row (committed), False when it changed none. On SQLite in ONE trip to the connection's
    thread, COMMIT included (``core_batch``: ``execute_alone`` there costs a second trip for the COMMIT); on
    PostgreSQL ``execute_alone``'s one AUTOCOMMIT round trip."""
    if _postgres_bind(sessions) is not None:
        return (await execute_alone(sessions, statement, params, write=write)).rowcount == 1
    try:
        async with core_batch(sessions, write=write) as batch:
            await run_core(batch, statement, params, expect_rows=1)
    except prepared.StaleWrite:
        return False
    return True


@asynccontextmanager
async def read_session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for reads outside any unit of work (a streamed turn's inputs, read while it holds the lease). It
    must not write: on PostgreSQL it is bound to an AUTOCOMMIT connection, so no BEGIN and no closing ROLLBACK
    round trip (each statement sees its own snapshot: give it reads of one statement, or of rows that cannot change
    meanwhile). On SQLite, a plain session (pysqlite begins no transaction for a SELECT)."""
    bind = _postgres_bind(sessions)
    if bind is None:
        async with sessions() as session:
            yield session
        return
    async with _autocommit(bind) as connection, sessions(bind=connection) as session:
        yield session


@asynccontextmanager
async def read_connection(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """``read_session`` without an ORM session, for reads that all go through ``run_core``: on PostgreSQL an
    AUTOCOMMIT connection (each statement its own snapshot), on SQLite a plain pooled connection (pysqlite begins
    no transaction for a SELECT, and returning it ends none)."""
    bind = _postgres_bind(sessions)
    if bind is not None:
        async with _autocommit(bind) as connection:
            yield connection
        return
    async with sessions.kw["bind"].connect() as connection:
        yield connection


class Database:
    """One engine + session factory per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def unit_of_work(self, *, write: bool = False) -> Any:
        """``async with db.unit_of_work() as session``: one transaction, committed once when the block succeeds."""
        return unit_of_work(self.sessions, write=write)

    def core_batch(self, *, write: bool = False) -> Any:
        """``async with db.core_batch() as unit``: ``core_unit`` whose writes go in one trip on SQLite."""
        return core_batch(self.sessions, write=write)

    async def dispose(self) -> None:
        await self.engine.dispose()
