"""Listing conventions shared by every list endpoint.

* ``continuation_token`` is an integer offset (default 0); a page answers ``has_more`` and the next token
  (``None`` unless ``has_more``).
* ``sort_by`` is a repeated ``+field`` / ``-field`` list; a bare or space-prefixed field sorts ascending (a literal
  ``+`` decodes to a space when a client does not percent-encode it).
* Tag filters are ``key:value``; ``key:*`` matches any value and ``key:`` matches a null value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.core.errors import Unprocessable

T = TypeVar("T")


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


def parse_sort_by(values: Sequence[str] | None, allowed: Sequence[str]) -> list[SortKey]:
    keys: list[SortKey] = []
    for raw in values or []:
        text = raw.strip() if raw.startswith(" ") else raw
        descending = text.startswith("-")
        name = text[1:] if text[:1] in "+-" else text
        if name not in allowed:
            raise Unprocessable(f"Cannot sort by {name!r}; supported fields: {', '.join(allowed)}.")
        keys.append(SortKey(name, descending))
    return keys


def apply_sort(query: Select[Any], keys: Sequence[SortKey], columns: Mapping[str, Any], default: Sequence[Any]) -> Select[Any]:
    order = [columns[k.field].desc() if k.descending else columns[k.field].asc() for k in keys]
    return query.order_by(*order, *default)


@dataclass(frozen=True)
class TagFilter:
    key: str
    value: str | None
    any_value: bool


def parse_tag_filters(values: Sequence[str] | None) -> list[TagFilter]:
    filters: list[TagFilter] = []
    for raw in values or []:
        if ":" not in raw:
            raise Unprocessable(f"Tag filter {raw!r} must use the syntax key:value, key:* or key:.")
        key, value = raw.split(":", 1)
        filters.append(TagFilter(key, value or None, value == "*"))
    return filters


def tags_match(tags: Mapping[str, str | None], filters: Sequence[TagFilter]) -> bool:
    """Every filter must hold (AND)."""
    for f in filters:
        if f.key not in tags:
            return False
        if not f.any_value and tags[f.key] != f.value:
            return False
    return True


@dataclass
class Page(Generic[T]):
    items: list[T]
    has_more: bool
    continuation_token: int | None


async def fetch_page(session: AsyncSession, query: Select[Any], limit: int, offset: int) -> Page[Any]:
    """Run ``query`` for one page: fetch ``limit + 1`` rows to learn ``has_more`` without a count."""
    if offset > 2**62:  # past any real row, and beyond what an SQL OFFSET (signed 64-bit) can carry
        return Page([], False, None)
    rows = list((await session.scalars(query.offset(offset).limit(limit + 1))).all())
    has_more = len(rows) > limit
    return Page(rows[:limit], has_more, offset + limit if has_more else None)


def page_list(items: Sequence[T], limit: int, offset: int) -> Page[T]:
    """Page an in-memory list (used where a filter cannot be expressed portably in SQL, e.g. JSON tags)."""
    chunk = list(items[offset : offset + limit])
    has_more = offset + limit < len(items)
    return Page(chunk, has_more, offset + limit if has_more else None)


async def count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
