"""Spans of the turn pipeline, on the OpenTelemetry API only (a no-op until the server installs the SDK; the engine
never configures anything). Span names: ``tertulia.turn`` (the whole turn), ``select_dynamic_behavior``,
``active_memory``, ``navigation`` with a ``navigation.decision`` per LLM decision and a ``navigation.transition`` per
state change, ``execute_tool {tool}`` per tool call, and ``engage`` (the reply). LLM calls get their own GenAI spans
from the server's observed LLM port, as children of the step that made them.

The pipeline is made of async generators, and a context attached inside a generator must never stay attached across
a ``yield`` (the consumer would run inside it, and closing the generator elsewhere would fail to detach). So spans
are activated only around awaits: ``traced`` for a coroutine, ``iterate_in`` for each step of a generator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

T = TypeVar("T")
tracer = trace.get_tracer("tertulia.engine")


def start(name: str, parent: Span | None = None, **attributes: Any) -> Span:
    """A span, child of ``parent`` (else of the current span), not made current."""
    ctx = trace.set_span_in_context(parent) if parent is not None else None
    return tracer.start_span(name, context=ctx, attributes=_clean(attributes))


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {(k if "." in k else f"tertulia.{k}"): v for k, v in attributes.items() if v is not None}


@contextmanager
def active(span: Span) -> Iterator[None]:
    """Make ``span`` current for a block that does not ``yield``. A span with no valid context (tracing is off: the
    API's no-op tracer hands out one invalid span) has nothing to pass on to the calls inside, so nothing is attached
    (a turn enters ~100 such blocks)."""
    if not span.get_span_context().is_valid:
        yield
        return
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        otel_context.detach(token)


def fail(span: Span, exc: BaseException) -> None:
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        span.set_attribute("tertulia.cancelled", True)
        return
    # the type and code only: exception texts may quote model output or user text, which never goes on a span
    span.set_attribute("error.type", type(exc).__name__)
    code = getattr(exc, "http_error_code", None)
    if isinstance(code, int):
        span.set_attribute("tertulia.http_error_code", code)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


async def traced(name: str, awaitable: Awaitable[T], parent: Span | None = None, **attributes: Any) -> T:
    """Await ``awaitable`` inside a new span (current for the await, so the calls it makes are its children)."""
    span = start(name, parent, **attributes)
    if not span.get_span_context().is_valid:  # tracing is off: nothing to record or pass on
        return await awaitable
    try:
        with active(span):
            return await awaitable
    except BaseException as exc:
        fail(span, exc)
        raise
    finally:
        span.end()


def iterate_in(span: Span, events: AsyncIterator[T], end: bool = True) -> AsyncIterator[T]:
    """Re-yield ``events`` with ``span`` current while each next item is computed (never across the yield).
    Ends the span when the iteration ends (``end``), recording a failure. With tracing off (a span with no valid
    context records nothing and has nothing to pass on) ``events`` itself is returned: no layer of re-yielding
    for every event of the turn (3.7 % of an interact's instructions, benchmarks/README.md)."""
    if not span.get_span_context().is_valid:
        return events
    return _iterate_in(span, events, end)


async def _iterate_in(span: Span, events: AsyncIterator[T], end: bool) -> AsyncIterator[T]:
    try:
        while True:
            with active(span):
                try:
                    item = await events.__anext__()
                except StopAsyncIteration:
                    return
            yield item
    except BaseException as exc:
        fail(span, exc)
        raise
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            with active(span):
                await close()
        if end:
            span.end()


def instant(name: str, **attributes: Any) -> None:
    """A zero-length span under the current one (a state transition)."""
    tracer.start_span(name, attributes=_clean(attributes)).end()
