"""Several tables' rows in ONE statement: ``json_rows(query)`` is a scalar subquery holding every row of ``query`` as
a JSON array of arrays (the query's columns, in order), on SQLite and PostgreSQL alike.

A turn's inputs live in several tables (messages, behavior sets, the user, its user model); reading them as one
``SELECT (json_rows(a)), (json_rows(b)), ...`` costs one round trip instead of one per table. The order of the rows
inside the array is not guaranteed (neither dialect promises an aggregate keeps a subquery's order): a caller that
needs an order selects its sort key too and sorts (``rows_sorted``). JSON columns are embedded as JSON (not as their
text), datetimes as ISO 8601 text (``parse_time`` reads them back, always timezone-aware, UTC when naive).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class json_rows(ColumnElement[Any]):  # noqa: N801 - reads as the SQL function it compiles to
    """Every row of ``query`` as one JSON array of arrays; its bound parameters stay those of ``query``."""

    inherit_cache = True
    _traverse_internals = [("query", InternalTraversal.dp_clauseelement)]
    type = JSON()

    def __init__(self, query: Any) -> None:
        self.query = query


def _is_json(column: Any) -> bool:
    kind = column.type
    return isinstance(kind, JSON) or isinstance(getattr(kind, "impl", None), JSON)


@compiles(json_rows, "sqlite")
def _sqlite(element: json_rows, compiler: Any, **kw: Any) -> str:
    rows = element.query.subquery("r")
    columns = [func.json(c) if _is_json(c) else c for c in rows.c]
    aggregate = select(func.json_group_array(func.json_array(*columns))).select_from(rows)
    return compiler.process(aggregate.scalar_subquery(), **kw)


@compiles(json_rows, "postgresql")
def _postgresql(element: json_rows, compiler: Any, **kw: Any) -> str:
    rows = element.query.subquery("r")
    aggregate = select(
        func.coalesce(func.json_agg(func.json_build_array(*rows.c)), literal_column("'[]'::json"))
    ).select_from(rows)
    return compiler.process(aggregate.scalar_subquery(), **kw)


def decoded(value: Any) -> list[list[Any]]:
    """A ``json_rows`` result as a list of rows (drivers hand JSON over decoded or as text)."""
    if value is None:
        return []
    if isinstance(value, str | bytes):
        import orjson

        value = orjson.loads(value)
    return list(value)


def rows_sorted(value: Any, *key_columns: int) -> list[list[Any]]:
    """The rows of a ``json_rows`` result sorted by the given column positions."""
    return sorted(decoded(value), key=lambda row: tuple(row[i] for i in key_columns))


def parse_time(value: Any) -> datetime:
    """A datetime from a ``json_rows`` row: ISO 8601 text on both dialects (SQLite's has a space, no zone)."""
    moment = value if isinstance(value, datetime) else _fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_fromisoformat = datetime.fromisoformat
