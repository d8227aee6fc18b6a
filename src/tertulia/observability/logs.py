"""Log lines: human-readable by default, one JSON object a line with ``TERTULIA_LOG_FORMAT=json``.

Every record gets the ids of ``observability.context`` (request, organization, conversation, interaction, job) and,
inside a recording span, the OpenTelemetry ``trace_id``/``span_id`` (so a log line leads to its trace). Text lines
show them as a ``[key=value ...]`` suffix.

What is never logged: tertulia's own log calls carry ids, counts and timings only, never message text or credentials.
uvicorn's access log is filtered here too: query-string values whose names look secret (``signature``, ``token``,
``key``, ``secret``, ``password``) are replaced by ``***`` (signed blob URLs carry their signature in the query).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from tertulia.observability import context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s%(context_suffix)s"
_SECRET_QUERY = re.compile(r"([?&][^=&#]*(?:signature|token|key|secret|password)[^=&#]*=)[^&#\s]*", re.IGNORECASE)


class ContextFilter(logging.Filter):
    """Adds the context ids and the trace/span ids to every record (attributes, and a text suffix)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = context.current()
        trace_id, span_id = _trace_ids()
        if trace_id:
            ids["trace_id"], ids["span_id"] = trace_id, span_id
        for key, value in ids.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        record.context_suffix = (" [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]") if ids else ""
        return True


class AccessLogRedaction(logging.Filter):
    """Masks secret-looking query parameters in uvicorn's access lines (args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            args = list(record.args)
            args[2] = redact_query(args[2])
            record.args = tuple(args)
        return True


def redact_query(path: str) -> str:
    return _SECRET_QUERY.sub(r"\1***", path)


def _trace_ids() -> tuple[str | None, str | None]:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - opentelemetry-api is a dependency
        return None, None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        reserved_attrs=[*_RESERVED, "context_suffix"],
    )


_RESERVED = (
    "args", "created", "exc_info", "exc_text", "filename", "funcName", "levelno", "lineno", "module", "msecs",
    "msg", "pathname", "process", "processName", "relativeCreated", "stack_info", "thread", "threadName", "taskName",
    "color_message",
)


def configure_logging(log_format: str | None = None, level: str | None = None, *, force: bool = False) -> None:
    """Install the root handler (stderr) in the chosen format. A root logger somebody already configured (a test
    harness, an embedding application) keeps its handlers unless ``force``: they only gain the context filter."""
    from tertulia.observability.settings import ObservabilitySettings

    settings = ObservabilitySettings()
    log_format = (log_format or settings.log_format).lower()
    root = logging.getLogger()
    if force or not root.handlers:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
        root.setLevel(getattr(logging, (level or settings.log_level).upper(), logging.INFO))
    for handler in root.handlers:
        install_filters(handler)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogRedaction) for f in access.filters):
        access.addFilter(AccessLogRedaction())


def install_filters(handler: logging.Handler) -> None:
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())


def summary_extra(fields: dict[str, Any]) -> dict[str, Any]:
    """``extra=`` for a log call whose fields should be separate JSON keys (prefixed to avoid clashes)."""
    return {f"tertulia_{k}": v for k, v in fields.items()}
