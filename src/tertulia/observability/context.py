"""The ids a log line or span carries, in contextvars: set once (a request, a turn, a job), seen everywhere below
(tasks copy the context when they are created, so engine steps running concurrently see them too).

Only identifiers live here, never message text or credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("request_id", "org_id", "conversation_id", "interaction_id", "job_id")

_VARS: dict[str, ContextVar[str | None]] = {name: ContextVar(f"tertulia_{name}", default=None) for name in FIELDS}


def current() -> dict[str, str]:
    """The ids set in this context (missing ones left out)."""
    out = {}
    for name, var in _VARS.items():
        value = var.get()
        if value:
            out[name] = value
    return out


def set_ids(**ids: str | None) -> None:
    """Set ids for the rest of this context (a request handler, a task). Unknown names are an error."""
    for name, value in ids.items():
        _VARS[name].set(value)
    _annotate_span(ids)


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Set ids for a block, restoring the previous values after it (never across an async generator's yield)."""
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in ids.items()]
    _annotate_span(ids)
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def _annotate_span(ids: dict[str, str | None]) -> None:
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({f"tertulia.{k}": v for k, v in ids.items() if v})


def vars_for(ids: dict[str, str | None]) -> list[tuple[ContextVar[str | None], str | None]]:
    """The context variables for these ids (for callers that set and reset them around single awaits)."""
    return [(_VARS[name], value) for name, value in ids.items()]
