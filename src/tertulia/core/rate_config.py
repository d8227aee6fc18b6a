"""Self-hosters' rate-limit configuration: per-operation overrides of the spec's table (``core/rate_table.py``).

Two sources, applied in this order over the spec's limits (later wins):

* ``TERTULIA_RATE_LIMITS_FILE``: a YAML or JSON mapping ``operationId: limit``;
* ``TERTULIA_RATE_LIMITS``: the same mapping inline, as JSON (``{"create-conversation": 30}``) or as
  ``operationId=limit`` pairs separated by commas (``create-conversation=30,get-conversations=off``).

A limit is a number of requests per minute (``60``), a ``limits`` expression (``"1000/hour"``, ``"10 per
second"``), or ``off`` / ``0`` / ``null`` / ``false`` to stop counting that operation. The key ``"*"`` sets every
operation the spec limits at once (explicit keys still win). Operations the spec does not limit may be given a
limit too. Unknown operationIds are refused when the app starts (``check_operations``), so a typo is not silent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from limits import RateLimitItem, RateLimitItemPerMinute, parse

from tertulia.core.rate_table import LIMITS_PER_MINUTE

OFF_WORDS = {"off", "none", "null", "false", "disabled", "unlimited", "0"}


class RateLimitConfigError(ValueError):
    pass


def parse_limit(operation_id: str, value: Any) -> RateLimitItem | None:
    """One configured value: an item, or None for "not limited"."""
    if value is None or value is False or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return None
    if isinstance(value, bool):
        raise RateLimitConfigError(f"rate limit for {operation_id}: true is not a limit (use a number or off)")
    if isinstance(value, int):
        if value < 0:
            raise RateLimitConfigError(f"rate limit for {operation_id}: {value} is negative")
        return RateLimitItemPerMinute(value)
    text = str(value).strip()
    if text.lower() in OFF_WORDS:
        return None
    if text.isdigit():
        return RateLimitItemPerMinute(int(text))
    try:
        return parse(text)
    except ValueError as exc:
        raise RateLimitConfigError(
            f"rate limit for {operation_id}: {text!r} is not a number per minute, a limit like '100/hour', or off"
        ) from exc


def _inline(text: str) -> dict[str, Any]:
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise RateLimitConfigError("TERTULIA_RATE_LIMITS must be a JSON object")
        return data
    pairs: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise RateLimitConfigError(f"TERTULIA_RATE_LIMITS: {part.strip()!r} is not operationId=limit")
        pairs[key.strip()] = value.strip()
    return pairs


def _file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise RateLimitConfigError(f"TERTULIA_RATE_LIMITS_FILE {path}: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise RateLimitConfigError(f"TERTULIA_RATE_LIMITS_FILE {path} must hold a mapping of operationId to limit")
    return data


def configured_limits(file: str | Path | None = None, inline: str | None = None) -> dict[str, RateLimitItem]:
    """The effective table: the spec's limits with the file's and then the inline overrides applied."""
    raw: dict[str, Any] = {}
    if file:
        raw.update(_file(Path(file)))
    if inline:
        raw.update(_inline(inline))
    table: dict[str, RateLimitItem | None] = {op: RateLimitItemPerMinute(n) for op, n in LIMITS_PER_MINUTE.items()}
    if "*" in raw:
        every = parse_limit("*", raw.pop("*"))
        table = {op: every for op in table}
    for operation_id, value in raw.items():
        table[str(operation_id)] = parse_limit(str(operation_id), value)
    return {op: item for op, item in table.items() if item is not None}


def configured_operations(file: str | Path | None = None, inline: str | None = None) -> set[str]:
    """Every operationId the configuration names (to check against the app's routes)."""
    raw: dict[str, Any] = {}
    if file:
        raw.update(_file(Path(file)))
    if inline:
        raw.update(_inline(inline))
    return {str(k) for k in raw if k != "*"}


def check_operations(named: set[str], known: set[str]) -> None:
    unknown = sorted(named - known)
    if unknown:
        raise RateLimitConfigError(f"rate-limit configuration names operations this server does not have: {unknown}")


def check_app_operations(app: Any) -> None:
    """At start-up: every operationId the configuration names must be one of the app's own."""
    settings = app.state.runtime.settings
    named = configured_operations(getattr(settings, "rate_limits_file", None), getattr(settings, "rate_limits", None))
    if not named:
        return
    known = {op["operationId"] for item in app.openapi()["paths"].values() for op in item.values()
             if isinstance(op, dict) and "operationId" in op}
    check_operations(named, known)
