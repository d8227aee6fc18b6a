"""The OpenAI-compatible adapters' HTTP behaviour against a real loopback server: one pooled keep-alive connection
reused across calls, retries only where a request got no usable answer, the provider's error surfaced."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tertulia.engine.adapters.openai_compat import OpenAICompatEmbedder, OpenAICompatLLM
from tertulia.engine.contract import EngineError
from tertulia.engine.ports import ChatMessage, LLMRequest
from tests.engine.openai_stub import free_port

SCHEMA = {"type": "object", "properties": {"next": {"type": "string"}}, "required": ["next"], "additionalProperties": False}


class Provider:
    """Answers chat completions from a script: each entry is consumed by one request; an empty script answers OK."""

    def __init__(self) -> None:
        self.script: deque[str] = deque()
        self.bodies: list[dict] = []
        self.peers: list[tuple[str, int]] = []
        self.stop_hanging = False
        self.port = free_port()
        app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"]),
                                Route("/v1/embeddings", self.embeddings, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                    lifespan="off", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.bodies.append(body)
        self.peers.append(tuple(request.client))
        step = self.script.popleft() if self.script else "ok"
        if step == "503":
            return JSONResponse({"error": {"message": "overloaded, try again"}}, status_code=503,
                                headers={"Retry-After": "0"})
        if step == "400":
            return JSONResponse({"error": {"message": "messages must not be empty"}}, status_code=400)
        if step == "hang":
            while not self.stop_hanging:
                await asyncio.sleep(0.02)
        if step == "stream-error":
            async def broken():
                yield 'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
                yield 'data: {"error":{"message":"the model crashed"}}\n\n'
            return StreamingResponse(broken(), media_type="text/event-stream")
        if step == "stream-batched":  # three events in one write, then one event cut in two writes
            async def batched():
                yield "".join("data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": w}}]}) + "\n\n"
                              for w in ("One ", "two ", "three "))
                await asyncio.sleep(0.05)
                yield 'data: {"choices":[{"index":0,"delta":{"con'
                await asyncio.sleep(0.05)
                yield 'tent":"four"}}]}\n\ndata: [DONE]\n\n'
            return StreamingResponse(batched(), media_type="text/event-stream")
        if body.get("stream"):
            async def events():
                for word in ("Hello ", "there", ""):
                    yield "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": word}}]}) + "\n\n"
                yield ": keep-alive comment\n\ndata: [DONE]\n\n"
            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse({"choices": [{"index": 0, "message": {"role": "assistant", "content": '{"next": "a"}'}}]})

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.peers.append(tuple(request.client))
        rows = [{"index": i, "embedding": [3.0, 4.0] if i % 2 == 0 else [40.0, 30.0]} for i, _ in enumerate(body["input"])]
        return JSONResponse({"data": rows[::-1]})  # out of order: the adapter orders by index

    def __enter__(self) -> Provider:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            assert time.time() < deadline, "provider did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.stop_hanging = True
        self.server.should_exit = True
        self.thread.join(timeout=5)


@pytest.fixture
def provider():
    with Provider() as p:
        yield p


def ask(kind: str = "SelectNextAction") -> LLMRequest:
    return LLMRequest(kind, [ChatMessage("system", "You pick."), ChatMessage("user", "Hi")])


async def test_calls_share_one_pooled_keep_alive_connection(provider):
    llm = OpenAICompatLLM(provider.base_url, "k", default_model="m")
    for _ in range(5):
        assert await llm.decide(ask(), SCHEMA, "pick") == {"next": "a"}
        assert "".join([t async for t in llm.stream_text(ask("EngageUser"))]) == "Hello there"
    assert len(provider.bodies) == 10 and len(set(provider.peers)) == 1  # one connection for every call
    assert provider.bodies[0]["response_format"]["json_schema"] == {"name": "pick", "schema": SCHEMA, "strict": True}
    assert provider.bodies[1]["stream"] is True and provider.bodies[1]["messages"][1] == {"role": "user", "content": "Hi"}
    await llm.aclose()


async def test_an_overloaded_answer_is_retried_once_then_reported(provider):
    llm = OpenAICompatLLM(provider.base_url, "k", default_model="m", max_retries=1)
    provider.script.extend(["503"])
    assert await llm.decide(ask(), SCHEMA, "pick") == {"next": "a"}
    provider.script.extend(["503"])
    assert "".join([t async for t in llm.stream_text(ask("EngageUser"))]) == "Hello there"
    assert len(provider.bodies) == 4
    provider.script.extend(["503", "503"])
    with pytest.raises(EngineError) as info:
        await llm.decide(ask(), SCHEMA, "pick")
    assert info.value.http_error_code == 502 and "503" in info.value.description
    assert "overloaded, try again" in info.value.description
    assert len(provider.bodies) == 6
    await llm.aclose()


async def test_a_client_error_is_not_retried(provider):
    llm = OpenAICompatLLM(provider.base_url, "k", default_model="m", max_retries=3)
    provider.script.extend(["400"])
    with pytest.raises(EngineError) as info:
        await llm.decide(ask(), SCHEMA, "pick")
    assert info.value.http_error_code == 502 and "messages must not be empty" in info.value.description
    assert len(provider.bodies) == 1
    await llm.aclose()


async def test_a_timeout_is_a_504_and_not_retried(provider):
    llm = OpenAICompatLLM(provider.base_url, "k", default_model="m", timeout=0.5, max_retries=2)
    provider.script.extend(["hang"])
    with pytest.raises(EngineError) as info:
        await llm.decide(ask(), SCHEMA, "pick")
    assert info.value.http_error_code == 504
    assert len(provider.bodies) == 1
    await llm.aclose()


async def test_an_error_event_mid_stream_fails_after_the_words_already_streamed(provider):
    llm = OpenAICompatLLM(provider.base_url, "k", default_model="m", max_retries=2)
    provider.script.extend(["stream-error"])
    words = []
    with pytest.raises(EngineError) as info:
        async for word in llm.stream_text(ask("EngageUser")):
            words.append(word)
    assert words == ["Hel"] and info.value.http_error_code == 502 and "the model crashed" in info.value.description
    assert len(provider.bodies) == 1  # a stream that started is never sent again
    await llm.aclose()


async def test_events_that_arrive_together_are_one_piece_and_a_line_cut_across_reads_is_joined(provider):
    llm = OpenAICompatLLM(provider.base_url, "k", default_model="m")
    provider.script.extend(["stream-batched"])
    request = ask("EngageUser")
    pieces = [piece async for piece in llm.stream_text(request)]
    assert pieces == ["One two three ", "four"] and request.response.raw_text == "One two three four"
    await llm.aclose()


async def test_unreachable_provider_is_retried_then_a_502():
    port = free_port()  # nothing listens there
    llm = OpenAICompatLLM(f"http://127.0.0.1:{port}/v1", "k", default_model="m", timeout=2, max_retries=1)
    started = time.perf_counter()
    with pytest.raises(EngineError) as info:
        await llm.decide(ask(), SCHEMA, "pick")
    assert info.value.http_error_code == 502 and "unreachable" in info.value.description
    assert time.perf_counter() - started >= 0.3  # one backoff before the retry
    await llm.aclose()


async def test_embeddings_are_ordered_by_index_and_normalised(provider):
    embedder = OpenAICompatEmbedder(provider.base_url, "k", model="e")
    assert await embedder.embed([]) == []
    vectors = await embedder.embed(["a", "b"])
    assert vectors == [pytest.approx([0.6, 0.8]), pytest.approx([0.8, 0.6])]
    await embedder.aclose()


def test_the_environment_proxy_is_read_once_and_no_proxy_is_honoured(monkeypatch):
    from tertulia.engine.adapters.openai_http import OpenAIHttp

    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert OpenAIHttp("https://api.example.com/v1", "k", 5).proxy is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,.corp.example")
    assert OpenAIHttp("https://api.example.com/v1", "k", 5).proxy == "http://proxy.internal:3128"
    assert OpenAIHttp("https://llm.corp.example/v1", "k", 5).proxy is None
    assert OpenAIHttp("http://127.0.0.1:8080/v1", "k", 5).proxy is None  # no HTTP_PROXY set either
