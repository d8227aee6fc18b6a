"""Filtering shared by the simulation list and search endpoints: creators (``org_id,user_id``), tags, relevance,
and the ``filter_values`` of a first page (counted over everything in the organization, as the spec says)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from tertulia.core.errors import Unprocessable
from tertulia.core.paging import parse_tag_filters, tags_match


def check_creators(creators: Sequence[str]) -> set[str]:
    for raw in creators:
        if raw.count(",") != 1 or not all(part.strip() for part in raw.split(",")):
            raise Unprocessable(f"creator {raw!r} must be of the format org_id,user_id.")
    return set(creators)


def creator_key(creator: dict[str, Any]) -> str:
    return f"{creator.get('org_id')},{creator.get('user_id')}"


class RowFilter:
    """Creators and tags of a request, checked per row (JSON tags are filtered portably in Python)."""

    def __init__(self, creators: Sequence[str], tags: Sequence[str]) -> None:
        self.creators = check_creators(creators)
        self.tags = parse_tag_filters(tags)

    def __call__(self, row: Any) -> bool:
        if self.creators and creator_key(row.creator) not in self.creators:
            return False
        return tags_match(row.tags or {}, self.tags)


def distinct_creators(rows: Iterable[Any]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(creator_key(row.creator), {"org_id": row.creator.get("org_id"), "user_id": row.creator.get("user_id")})
    return list(seen.values())


def distinct_tags(rows: Iterable[Any]) -> list[str]:
    return sorted({f"{k}:{v if v is not None else ''}" for row in rows for k, v in (row.tags or {}).items()})


def relevance(query: str, *texts: str) -> float:
    """Word overlap (whole words, then prefixes) plus a bonus for the whole query as a substring; 0 = no match."""
    q = query.lower().strip()
    words = set(re.findall(r"\w+", q))
    if not words:
        return 0.0
    score = 0.0
    for weight, text in zip((1.0, 0.5, 0.5), texts, strict=False):
        lowered = (text or "").lower()
        found = set(re.findall(r"\w+", lowered))
        part = len(words & found) / len(words)
        part += 0.5 * sum(1 for w in words - found if any(f.startswith(w) for f in found)) / len(words)
        if q in lowered:
            part += 1.0
        score += weight * part
    return score


def top_matches(query: str, rows: Iterable[Any], texts: Any, limit: int = 50) -> list[Any]:
    scored = [(relevance(query, *texts(row)), index, row) for index, row in enumerate(rows)]
    scored = [item for item in scored if item[0] > 0]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [row for _, _, row in scored[:limit]]
