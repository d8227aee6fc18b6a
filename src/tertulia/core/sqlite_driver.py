"""aiosqlite with one thread hop per statement.

aiosqlite runs every sqlite3 call on the connection's own thread, and SQLAlchemy's adapter makes four such calls per
SELECT (open a cursor, execute, fetch all, close) and three per INSERT/UPDATE. Each call is a round trip between the
event loop and that thread (a queue put, a thread wake-up, a future resolved through the loop's self-pipe), so a turn
made about 30 of them, and on a busy host every one waits for a time slice. Here a statement is one call: the
cursor is opened, executed, read and closed on the connection's thread in one go, and its description, row count and
last row id travel back with the rows.

A plain SELECT makes no hop at all: it runs on the event loop's thread (the connection is opened with
``check_same_thread=False``; SQLAlchemy hands it to one task at a time and every hop is awaited, so the two threads
never use it at once). In WAL mode a read takes no lock a writer holds, so it does not wait on ``busy_timeout``;
the time it takes is the page reads of the statement (microseconds for a turn's keyed reads), less than the hop
it saves (a queue put, a wake-up of the connection's thread, its turn at the GIL, the future resolved through the
loop). Writes stay on the connection's thread: they can wait for the write lock, and their commit can checkpoint.

Everything else (connect, commit and rollback of an open transaction, close, server-side cursors, the dialect
itself) is SQLAlchemy's own aiosqlite adapter, handed this DBAPI through
``create_async_engine(..., module=one_hop_dbapi())``. It relies on two
attributes of ``aiosqlite.Connection`` that SQLAlchemy's adapter relies on as well (``_execute``, ``_conn``; every
release in ``pyproject.toml``'s range has them), and ``tests/test_sqlite_driver.py`` fails if they change.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

_NO_RESULT = (None, -1, None)


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> tuple[tuple, list | None]:
    """On the connection's thread: the whole statement, cursor opened and closed here."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return (description, cursor.rowcount, cursor.lastrowid), rows
    finally:
        cursor.close()


def _run_batch(connection: sqlite3.Connection, items: list[tuple[str, Any, bool, int | None]]) -> int | None:
    """On the connection's thread: each ``(sql, values, many, expected rows)`` in order, then COMMIT. A statement
    that changes another number of rows than expected rolls everything back and its index is returned; an error
    rolls everything back and is raised. None: all committed."""
    try:
        for index, (operation, parameters, many, expected) in enumerate(items):
            cursor = connection.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                else:
                    cursor.execute(operation, parameters)
                if expected is not None and cursor.rowcount != expected:
                    connection.rollback()
                    return index
            finally:
                cursor.close()
        connection.commit()
        return None
    except BaseException:
        if connection.in_transaction:
            connection.rollback()
        raise


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement runs in one call on the connection's thread (no aiosqlite cursor)."""

    __slots__ = ("_result",)

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:  # no hop to open a cursor
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._result = _NO_RESULT

    @property
    def description(self) -> Any:
        return self._result[0]

    @property
    def rowcount(self) -> int:
        return self._result[1]

    @property
    def lastrowid(self) -> Any:
        return self._result[2]

    @property
    def arraysize(self) -> int:
        return 1  # sqlite3's default; rows are buffered here anyway

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        return None  # nothing is open on the connection's thread

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None  # a no-op in sqlite3 too

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._one_hop(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._one_hop(operation, seq_of_parameters, many=True)

    async def _one_hop(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            if not many and is_read(operation):
                self._result, rows = _run(connection._conn, operation, parameters, False)
            else:
                self._result, rows = await connection._execute(_run, connection._conn, operation, parameters, many)
            self._rows = collections.deque(rows or ())


def is_read(operation: str) -> bool:
    """A plain SELECT: run on the event loop's thread, no hop (see the module docstring)."""
    return operation[:6].upper() == "SELECT"


async def run_batch(adapted: Any, items: list[tuple[str, Any, bool, int | None]]) -> int | None:
    """``_run_batch`` in ONE trip to the connection's thread (``adapted``: a ``OneHopConnection`` with no
    transaction of SQLAlchemy's open on it)."""
    async with adapted._execute_mutex:
        connection = adapted._connection
        return await connection._execute(_run_batch, connection._conn, items)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Also: a commit or rollback with no transaction open (a unit of work that only read: sqlite3 opens one only
    before a write) makes no trip to the connection's thread; there is nothing for it to end. ``in_transaction``
    is read while no statement of this connection runs (SQLAlchemy uses a connection from one task at a time)."""

    __slots__ = ()
    _cursor_cls = OneHopCursor

    def _idle(self) -> bool:
        raw = self._connection._connection  # aiosqlite's sqlite3 connection (None once closed)
        return raw is not None and not raw.in_transaction

    def commit(self) -> None:
        if not self._idle():
            super().commit()

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI adapter whose connections hand out ``OneHopCursor``s."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def one_hop_dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(__import__("aiosqlite"), sqlite3)
