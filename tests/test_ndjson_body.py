"""The NDJSON body (``turns.pump.ndjson_body``): lines produced together go out in one write, a lone line is never held
back waiting for company, and closing the body stops the turn and runs its cleanup."""

from __future__ import annotations

import asyncio

import orjson


def lines(chunk: bytes) -> list[dict]:
    return [orjson.loads(line) for line in chunk.splitlines()]


async def test_events_produced_together_share_one_write_and_none_waits_for_another():
    from tertulia.turns.pump import ndjson_body

    first_sent = asyncio.Event()

    async def events():
        for n in range(3):  # produced back to back, no await in between
            yield {"n": n}
        await first_sent.wait()  # the next event waits until the body has sent what it had
        yield {"n": 3}
        yield {"n": 4}

    body = ndjson_body(events())
    first = await body.__anext__()
    first_sent.set()
    rest = [chunk async for chunk in body]
    assert lines(first) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [lines(c) for c in rest] == [[{"n": 3}, {"n": 4}]]


async def test_a_lone_event_is_sent_at_once():
    from tertulia.turns.pump import ndjson_body

    never = asyncio.Event()

    async def events():
        yield {"type": "user-message-available"}
        await never.wait()
        yield {"type": "never"}

    body = ndjson_body(events())
    first = await asyncio.wait_for(body.__anext__(), timeout=5)
    assert lines(first) == [{"type": "user-message-available"}]
    await body.aclose()


async def test_closing_the_body_stops_the_producer_and_runs_its_cleanup():
    from tertulia.turns.pump import ndjson_body

    cleaned = asyncio.Event()
    started = asyncio.Event()

    async def events():
        try:
            yield {"n": 0}
            started.set()
            await asyncio.Event().wait()  # a turn still running (an LLM that has not answered)
            yield {"n": 1}
        finally:
            cleaned.set()

    body = ndjson_body(events())
    assert lines(await body.__anext__()) == [{"n": 0}]
    await asyncio.wait_for(started.wait(), timeout=5)
    await body.aclose()  # the client went away
    assert cleaned.is_set()


async def test_a_failing_producer_fails_the_body_after_what_it_produced():
    from tertulia.turns.pump import ndjson_body

    async def events():
        yield {"n": 0}
        raise RuntimeError("boom")

    body = ndjson_body(events())
    sent = []
    try:
        async for chunk in body:
            sent.extend(lines(chunk))
    except RuntimeError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the failure was swallowed")
    assert sent == [{"n": 0}]


async def test_the_last_lines_are_marked_final_and_end_the_http_body_in_the_same_write():
    from tertulia.turns.pump import ndjson_body
    from tertulia.turns.streaming import NDJSONResponse

    gate = asyncio.Event()

    async def events():
        yield {"n": 0}
        await gate.wait()
        yield {"n": 1}
        yield {"n": 2}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)
        if len(sent) == 2:
            gate.set()

    async def receive() -> dict:
        await asyncio.Event().wait()  # the client never disconnects
        return {}

    response = NDJSONResponse(ndjson_body(events()))
    await response({"type": "http", "asgi": {"spec_version": "2.4"}}, receive, send)
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert [lines(m["body"]) for m in bodies] == [[{"n": 0}], [{"n": 1}, {"n": 2}]]
    assert [m["more_body"] for m in bodies] == [True, False]  # no empty write to end the body


async def test_a_body_whose_end_comes_alone_still_ends_with_an_empty_write():
    from tertulia.turns.streaming import NDJSONResponse

    async def chunks():
        yield b'{"n":0}\n'

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    response = NDJSONResponse(chunks())
    await response({"type": "http", "asgi": {"spec_version": "2.4"}}, None, send)
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [(b'{"n":0}\n', True), (b"", False)]
