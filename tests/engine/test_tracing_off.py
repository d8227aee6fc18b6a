"""With tracing off (the OpenTelemetry API's no-op tracer hands out invalid spans) the pipeline adds no layer of
re-yielding around its event streams, and what they yield and how they close is unchanged."""

from __future__ import annotations

from opentelemetry.trace import INVALID_SPAN

from tertulia.engine import tracing


async def test_iterate_in_hands_back_the_stream_itself_for_an_invalid_span():
    closed: list[bool] = []

    async def events():
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    stream = events()
    assert tracing.iterate_in(INVALID_SPAN, stream) is stream
    assert [e async for e in tracing.iterate_in(INVALID_SPAN, events())] == [1, 2]
    assert closed == [True]


async def test_traced_awaits_straight_through_for_an_invalid_span():
    async def value() -> int:
        return 7

    assert await tracing.traced("no-op", value()) == 7
