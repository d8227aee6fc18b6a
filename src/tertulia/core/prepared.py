"""Prebuilt Core statements run straight on the driver: compiled once per dialect, no execution context per call.

SQLAlchemy's ``Connection.execute`` builds an execution context for every statement (cache key lookup, parameter
dictionary, bind processing through the dialect's hooks, a result object with its metadata) and runs the driver
call through its greenlet bridge. For the handful of prebuilt statements a turn runs (``core.db.run_core``), that is
most of their CPU cost. Here a statement is compiled ONCE per dialect and parameter keys (exactly as
``Connection.execute`` would compile it: ``column_keys`` are the sorted parameter names), and each call only
orders the values, applies the compiled bind processors (``TypeDecorator``\\ s, JSON, datetimes), fills Python-side
column defaults (``default=`` / ``onupdate=``) and awaits the driver's own coroutine on the connection the session
already holds: the transaction is the session's (SQLite: sqlite3 begins it before the first write; PostgreSQL:
the asyncpg adapter's, started here as its cursor would), so a rollback undoes these statements like any other.

What the fast path keeps from SQLAlchemy: driver errors come out as ``sqlalchemy.exc`` errors (``IntegrityError``,
...), a lost connection is invalidated. It runs only on the two drivers tertulia ships (aiosqlite through
``core.sqlite_driver``, asyncpg), only statements it can run exactly as compiled (no expanding ``IN``, no SQL-side
defaults, no RETURNING), and only while nothing listens to the engine's statements: OpenTelemetry's SQLAlchemy
instrumentation (tracing on) and statement counters (tests, ``benchmarks/turn_statements.py``) read SQLAlchemy's
execution context, so with a listener every statement takes ``Connection.execute``.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_cursor

from tertulia.core.sqlite_driver import OneHopConnection, OneHopCursor, run_batch

_REQUIRED = object()
_MAX_PLANS = 512  # per dialect: prebuilt statements are few; a caller building statements per call only recompiles


class _Unsupported(Exception):
    """The statement cannot run on the fast path as compiled (it goes through ``Connection.execute``)."""


class Plan:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = ("sql", "_slots", "_defaults", "_row", "_result_processors", "is_select")

    def __init__(self, statement: Any, dialect: Any, keys: list[str], many: bool) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=keys, for_executemany=many)
        if (not compiled.positional or compiled.escaped_bind_names or compiled.literal_execute_params
                or compiled.post_compile_params or getattr(compiled, "_render_postcompile", False)
                or getattr(compiled, "postfetch_lastrowid", False) or compiled.effective_returning):
            raise _Unsupported
        processors = compiled._bind_processors
        by_name: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            fixed = _REQUIRED if bind.required else (bind.effective_value if bind.callable else bind.value)
            by_name[name] = (bind.key, fixed)
        defaults = []
        prefetch = [(c, c.default) for c in compiled.insert_prefetch] + [(c, c.onupdate) for c in compiled.update_prefetch]
        for column, default in prefetch:
            if default is None or not (default.is_callable or default.is_scalar):
                raise _Unsupported
            defaults.append((column.key, default.arg if default.is_callable else None, default.arg))
        self._defaults = tuple(defaults)
        self._slots = tuple((name, *by_name[name], processors.get(name)) for name in compiled.positiontup)
        self.sql = compiled.string
        self.is_select = not (compiled.isinsert or compiled.isupdate or compiled.isdelete)
        if many and self.is_select:
            raise _Unsupported  # a SELECT per parameter set: Connection.execute's executemany semantics
        self._result_processors: tuple[Any, ...] = ()
        self._row: Any = None
        if self.is_select:
            columns = compiled._result_columns
            self._row = namedtuple("Row", [c[0] for c in columns], rename=True)  # type: ignore[misc]
            self._result_processors = tuple(c[3] for c in columns)

    def values(self, params: dict[str, Any]) -> list[Any]:
        """The positional values of one parameter set, bind-processed."""
        if self._defaults:
            params = dict(params)
            for key, call, value in self._defaults:
                if key not in params:
                    params[key] = call(None) if call is not None else value
        out = []
        for name, key, fixed, processor in self._slots:
            if key in params:
                value = params[key]
            elif name in params:
                value = params[name]
            elif fixed is _REQUIRED:
                raise sa_exc.InvalidRequestError(f"A value is required for bind parameter {key!r}")
            else:
                value = fixed
            out.append(processor(value) if processor is not None else value)
        return out

    def rows(self, dialect: Any, description: Any, raw: list[Any]) -> list[Any]:
        processors = [
            type_._cached_result_processor(dialect, column[1])
            for type_, column in zip(self._result_processors, description, strict=True)
        ]
        make = self._row._make
        if not any(processors):
            return [make(row) for row in raw]
        pairs = list(enumerate(processors))
        return [make([p(row[i]) if p is not None else row[i] for i, p in pairs]) for row in raw]


class Result:
    """What ``Connection.execute`` callers of a prebuilt statement read: ``rowcount``; a SELECT's rows."""

    __slots__ = ("rowcount", "_rows")

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount, self._rows = rowcount, rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise sa_exc.NoResultFound("No row was found") if not self._rows else sa_exc.MultipleResultsFound(
                "Multiple rows were found")
        return self._rows[0]

    def all(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Any:
        return iter(self._rows)


_PLANS: weakref.WeakKeyDictionary[Any, dict[Any, Plan | None]] = weakref.WeakKeyDictionary()


def plan_for(statement: Any, dialect: Any, params: Any) -> Plan | None:
    """The statement's plan on ``dialect`` for these parameters; None when it must take ``Connection.execute``."""
    many = isinstance(params, list)
    first = (params[0] if params else {}) if many else (params or {})
    key = (statement, tuple(first), many)
    plans = _PLANS.get(dialect)
    if plans is None:
        plans = _PLANS[dialect] = {}
    try:
        return plans[key]
    except KeyError:
        pass
    if len(plans) >= _MAX_PLANS:
        plans.clear()
    try:
        plan: Plan | None = Plan(statement, dialect, sorted(first), many)
    except _Unsupported:
        plan = None
    plans[key] = plan
    return plan


async def execute(connection: Any, statement: Any, params: Any = None) -> Any:
    """Run ``statement`` on the ``AsyncConnection`` (inside whatever transaction it has): the fast path's
    ``Result`` when the driver and the statement allow it, else ``connection.execute``'s result."""
    sync = connection.sync_connection
    adapted = sync._dbapi_connection.dbapi_connection if sync._dbapi_connection is not None else None
    listened = sync._has_events or sync.engine._has_events  # statement listeners want SQLAlchemy's context
    plan = plan_for(statement, sync.dialect, params) if adapted is not None and not listened else None
    if plan is None:
        return await connection.execute(statement, params)
    cursor = adapted.cursor()
    many = isinstance(params, list)
    values: Any = [plan.values(p) for p in params] if many else plan.values(params or {})
    if isinstance(cursor, OneHopCursor):
        run = cursor._executemany_async if many else cursor._execute_async
    elif isinstance(cursor, AsyncAdapt_asyncpg_cursor):
        run = cursor._executemany if many else cursor._prepare_and_execute
    else:
        return await connection.execute(statement, params)
    dialect = sync.dialect
    try:
        await run(plan.sql, values)
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, adapted, cursor):
            sync.invalidate(error)
        raise sa_exc.DBAPIError.instance(plan.sql, values, error, dialect.loaded_dbapi.Error,
                                         dialect=dialect) from error
    rows = plan.rows(dialect, cursor.description, cursor.fetchall()) if plan.is_select else []
    return Result(cursor.rowcount, rows)


class StaleWrite(Exception):
    """A guarded statement (``expect_rows``) changed another number of rows than expected; its unit of work was rolled
    back (the conversation's lease was lost, say)."""


def guard(rowcount: int, expected: int | None) -> None:
    """``StaleWrite`` unless a guarded statement changed ``expected`` rows (None: not guarded)."""
    if expected is not None and rowcount != expected:
        raise StaleWrite(f"{rowcount} rows changed, {expected} expected")


class Batch:
    """Statements queued by ``core.db.run_core`` inside a ``core.db.core_batch`` and run at its end in ONE trip to
    SQLite's connection thread, COMMIT included (a plain turn's outcome: five trips before). Nothing is read back but
    each guarded statement's row count, checked on that thread: a mismatch rolls everything back (``StaleWrite``).
    When the trip is not possible (a statement the fast path cannot run as compiled, a statement listener such as
    tracing's), the statements run one by one in a transaction of the connection, with the same guards."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.items: list[tuple[Any, Any, int | None]] = []

    def add(self, statement: Any, params: Any, expect_rows: int | None) -> None:
        self.items.append((statement, params, expect_rows))

    async def flush(self) -> None:
        sync = self.connection.sync_connection
        dialect = sync.dialect
        listened = sync._has_events or sync.engine._has_events
        raw = sync._dbapi_connection
        adapted = raw.dbapi_connection if raw is not None and not listened else None
        plans = [plan_for(st, dialect, params) for st, params, _ in self.items] if adapted is not None else [None]
        if not isinstance(adapted, OneHopConnection) or any(plan is None for plan in plans):
            async with self.connection.begin():
                for statement, params, expected in self.items:
                    guard((await execute(self.connection, statement, params)).rowcount, expected)
            return
        batch = [(plan.sql, [plan.values(p) for p in params] if isinstance(params, list) else plan.values(params or {}),
                  isinstance(params, list), expected)
                 for plan, (_, params, expected) in zip(plans, self.items, strict=True)]
        try:
            stale = await run_batch(adapted, batch)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, adapted, None):
                sync.invalidate(error)
            raise sa_exc.DBAPIError.instance("(batch)", None, error, dialect.loaded_dbapi.Error,
                                             dialect=dialect) from error
        if stale is not None:
            raise StaleWrite(f"statement {stale} of the batch changed another number of rows than expected")
