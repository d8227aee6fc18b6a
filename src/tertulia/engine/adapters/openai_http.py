"""The HTTP side of the OpenAI-compatible adapters: one pooled ``httpx.AsyncClient`` per adapter (keep-alive
connections reused across turns, never built per call), orjson bodies, server-sent events read line by line.

Why not the ``openai`` SDK: on a zero-latency provider its per-call work (walking every message through its typed
request transforms, building a pydantic model per streamed chunk) cost 3-5 ms of CPU per call, about the whole
platform cost of a turn (``benchmarks/README.md``). The wire protocol used here is small and stable:
``POST {base}/chat/completions`` (JSON, or ``stream: true`` → ``data: {chunk}`` lines ending with ``data: [DONE]``)
and ``POST {base}/embeddings``.

Failures, as the SDK reported them: a timeout → ``EngineError(504)``; an error status → ``EngineError(502)`` with
the provider's message; an unreachable provider or a cut connection → ``EngineError(502)``. Retries (``max_retries``,
default 1): a request that got no answer because the connection failed (a pooled connection the server had just
closed, a refused connect) or that was answered 408/409/429/5xx is sent again after a short backoff (``Retry-After``
honoured up to 8 s). Timeouts are not retried (a hung provider fails in one timeout), and a stream is never retried
once its response started.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

from tertulia.engine.contract import EngineError

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
INITIAL_BACKOFF, MAX_BACKOFF = 0.5, 8.0
# Below the 5 s keep-alive of uvicorn-based providers (vLLM, LM Studio, the test stub): an idle pooled connection is
# dropped here before the server closes it under a new request.
KEEPALIVE_EXPIRY = 4.0


class ProviderStatusError(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def translate(exc: Exception, what: str) -> EngineError:
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return EngineError(f"The language model timed out during {what}.", 504)
    if isinstance(exc, ProviderStatusError):
        return EngineError(f"The language model provider answered {exc.status} during {what}: {exc.message}", 502)
    if isinstance(exc, httpx.TransportError):
        return EngineError(f"The language model provider is unreachable during {what}: {type(exc).__name__}: {exc}", 502)
    return EngineError(f"The language model failed during {what}: {exc}", 502)


def _error_message(status: int, body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace")[:300] or f"HTTP {status}"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    return str(error or data)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


class OpenAIHttp:
    def __init__(self, base_url: str | None, api_key: str | None, timeout: float, max_retries: int = 1) -> None:
        self.base = (base_url or "https://api.openai.com/v1").rstrip("/")
        self.max_retries = max(0, max_retries)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_EXPIRY),
            headers={"Authorization": f"Bearer {api_key or 'not-needed'}", "Content-Type": "application/json",
                     "Accept": "application/json"},
        )

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else INITIAL_BACKOFF * 2**attempt * (0.75 + random.random() / 2)
        await asyncio.sleep(min(delay, MAX_BACKOFF))

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        content = orjson.dumps(body)
        attempt = 0
        while True:
            try:
                response = await self.client.post(self.base + path, content=content)
            except httpx.TimeoutException:
                raise
            except httpx.TransportError:
                if attempt >= self.max_retries:
                    raise
                await self._backoff(attempt, None)
                attempt += 1
                continue
            if response.status_code >= 400:
                if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                    await self._backoff(attempt, _retry_after(response))
                    attempt += 1
                    continue
                raise ProviderStatusError(response.status_code, _error_message(response.status_code, response.content))
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError as exc:
                raise ProviderStatusError(response.status_code, f"not JSON: {response.content[:200]!r}") from exc

    @asynccontextmanager
    async def _open_stream(self, path: str, content: bytes) -> AsyncIterator[httpx.Response]:
        """A streamed response with a success status. Retried only before it started: once the caller reads it,
        any failure is the caller's."""
        attempt = 0
        while True:
            retry_after: float | None = None
            started = False
            try:
                async with self.client.stream("POST", self.base + path, content=content,
                                              headers={"Accept": "text/event-stream"}) as response:
                    if response.status_code < 400:
                        started = True
                        yield response
                        return
                    body = await response.aread()
                    if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                        raise ProviderStatusError(response.status_code, _error_message(response.status_code, body))
                    retry_after = _retry_after(response)
            except httpx.TimeoutException:
                raise
            except httpx.TransportError:
                if started or attempt >= self.max_retries:
                    raise
            await self._backoff(attempt, retry_after)
            attempt += 1

    async def stream_events(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The JSON payload of each ``data:`` line of a server-sent event stream, until ``[DONE]``."""
        async with self._open_stream(path, orjson.dumps(body)) as response:
            done = False
            # Read to the body's end even after ``[DONE]``: a response closed unread takes its connection with it
            # instead of handing it back to the pool (the next call would pay a new TCP connect).
            async for line in response.aiter_lines():
                if done or not line.startswith("data:"):
                    continue  # blank separators, ``event:``/``id:`` fields, ``:`` comments
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    continue
                if not data:
                    continue
                try:
                    event = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    raise ProviderStatusError(response.status_code, f"an invalid stream event {data[:200]!r}") from exc
                if isinstance(event, dict) and event.get("error"):
                    raise ProviderStatusError(response.status_code, _error_message(response.status_code, data.encode()))
                yield event

    async def aclose(self) -> None:
        await self.client.aclose()
