"""A tiny OpenAI-compatible server for tests and benchmarks (127.0.0.1 only): streaming chat completions, json_schema
decisions answered with the schema's first valid value (or a scripted answer), and hashing embeddings.

Run standalone: ``python -m tests.engine.openai_stub --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tertulia.engine.fakes import FakeEmbedder, default_for_schema

REPLY = "Hello from the stub model. How can I help you today?"


class StubState:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.decisions: dict[str, deque[dict[str, Any]]] = {}
        self.reply = REPLY
        self.latency = 0.0
        self.stats = LLMStats()
        self.reject_stream_options = False  # answer 400 to a request with stream_options (an older server)
        self.reject_logprobs = False  # answer 400 to a request asking logprobs (a provider without them)

    def script(self, schema_name: str, value: dict[str, Any]) -> None:
        self.decisions.setdefault(schema_name, deque()).append(value)


class LLMStats:
    """What the benchmarks read from ``GET /stats``: chat calls by kind (a decision's schema name, or ``stream``),
    request body bytes, and how much of each prompt repeats the previous prompt of the same kind (the prefix a
    provider's prompt cache could reuse)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.request_bytes = 0
        self.prompt_chars = 0
        self.prefix_chars = 0
        self.embedding_calls = 0
        self._last: dict[str, str] = {}

    def record(self, raw: bytes, body: dict[str, Any]) -> None:
        fmt = body.get("response_format") or {}
        kind = fmt["json_schema"]["name"] if fmt.get("type") == "json_schema" else ("stream" if body.get("stream") else "chat")
        self.calls[kind] = self.calls.get(kind, 0) + 1
        self.request_bytes += len(raw)
        prompt = json.dumps(body.get("messages") or [], separators=(",", ":"))
        previous = self._last.get(kind, "")
        self.prompt_chars += len(prompt)
        self.prefix_chars += common_prefix_length(previous, prompt)
        self._last[kind] = prompt

    def as_json(self) -> dict[str, Any]:
        return {"calls": dict(self.calls), "request_bytes": self.request_bytes, "prompt_chars": self.prompt_chars,
                "prefix_chars": self.prefix_chars, "embedding_calls": self.embedding_calls}


def common_prefix_length(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` share, by bisection on slice comparisons (C speed).
    ``os.path.commonprefix`` walks the characters in Python: about a millisecond for a turn's prompts, on the path
    of every call this stub answers, which the benchmarks would count as the platform's latency."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def make_app(state: StubState) -> Starlette:
    embedder = FakeEmbedder(384)

    async def chat(request: Request):
        raw = await request.body()
        body = json.loads(raw)
        state.requests.append(body)
        state.stats.record(raw, body)
        if state.latency:
            await asyncio.sleep(state.latency)
        if state.reject_stream_options and "stream_options" in body:
            return JSONResponse({"error": {"message": "Unrecognized request argument supplied: stream_options"}},
                                status_code=400)
        if state.reject_logprobs and "logprobs" in body:
            return JSONResponse({"error": {"message": "logprobs is not supported"}}, status_code=400)
        created = int(time.time())
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            spec = fmt["json_schema"]
            queue = state.decisions.get(spec["name"])
            value = queue.popleft() if queue else default_for_schema(spec["schema"], spec["name"])
            content = json.dumps(value)
            choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}
            if body.get("logprobs"):  # each word or space a token, certain (the shape, not a model's figures)
                tokens = re.findall(r"\S+|\s+", content)
                choice["logprobs"] = {"content": [
                    {"token": t, "logprob": -0.01, "top_logprobs": [{"token": t, "logprob": -0.01}]} for t in tokens]}
            return JSONResponse({
                "id": "stub", "object": "chat.completion", "created": created, "model": body["model"],
                "choices": [choice], "usage": _usage(body, content),
            })
        if not body.get("stream"):
            return JSONResponse({
                "id": "stub", "object": "chat.completion", "created": created, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": state.reply}}],
            })

        async def events():
            words = state.reply.split(" ")
            for i, word in enumerate(words):
                piece = word + (" " if i < len(words) - 1 else "")
                chunk = {"id": "stub", "object": "chat.completion.chunk", "created": created, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            done = {"id": "stub", "object": "chat.completion.chunk", "created": created, "model": body["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\n"
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {"id": "stub", "object": "chat.completion.chunk", "created": created, "model": body["model"],
                         "choices": [], "usage": _usage(body, state.reply)}
                yield f"data: {json.dumps(usage)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def embeddings(request: Request):
        body = await request.json()
        state.stats.embedding_calls += 1
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = await embedder.embed(texts)
        return JSONResponse({"object": "list", "model": body.get("model", "stub"),
                             "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
                             "usage": {"prompt_tokens": 0, "total_tokens": 0}})

    async def stats(request: Request):
        return JSONResponse(state.stats.as_json())

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/embeddings", embeddings, methods=["POST"]),
                             Route("/stats", stats, methods=["GET"])])


def _usage(body: dict[str, Any], output: str) -> dict[str, int]:
    """Token usage as whitespace-separated words (deterministic, enough to check that usage is carried through)."""
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
    completion = len(output.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stub_process(port: int | None = None, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """This stub in its own process (benchmarks, evaluations), once it answers: the process and its root URL
    (``http://127.0.0.1:PORT``; the OpenAI-compatible API is under ``/v1``)."""
    import httpx

    port = port or free_port()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.engine.openai_stub", "--port", str(port)], cwd=root,
                            env={**os.environ, "PYTHONPATH": f"{root}:{root / 'src'}"})
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/embeddings", json={"input": ["x"]}, timeout=1)
            return proc, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("stub LLM did not start")


class StubServer:
    """Runs the stub in a background thread; ``base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.state = StubState()
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(make_app(self.state), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> StubServer:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("stub server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    uvicorn.run(make_app(StubState()), host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")
