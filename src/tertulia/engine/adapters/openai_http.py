"""The HTTP side of the OpenAI-compatible adapters: one pooled ``aiohttp.ClientSession`` per adapter (keep-alive
connections reused across turns, never built per call), orjson bodies, server-sent events read line by line.

Why not the ``openai`` SDK: on a zero-latency provider its per-call work (walking every message through its typed
request transforms, building a pydantic model per streamed chunk) cost 3-5 ms of CPU per call, about the whole
platform cost of a turn (``benchmarks/README.md``). Why aiohttp rather than httpx: measured against the same
zero-latency stub, a decision call took 0.6 ms and a streamed reply 1.1 ms through aiohttp, 1.0-1.5 ms and 1.5-2.1 ms
through httpx (its request/response models and the anyio layer under httpcore), and a plain turn makes two such
calls. The wire protocol used here is small and stable: ``POST {base}/chat/completions`` (JSON, or
``stream: true`` → ``data: {chunk}`` lines ending with ``data: [DONE]``) and ``POST {base}/embeddings``.

Failures, as the SDK reported them: a timeout (connecting, or waiting for the next bytes) → ``EngineError(504)``;
an error status → ``EngineError(502)`` with the provider's message; an unreachable provider or a cut connection →
``EngineError(502)``. Retries (``max_retries``, default 1): a request that got no answer because the connection
failed (a pooled connection the server had just closed, a refused connect) or that was answered 408/409/429/5xx is
sent again after a short backoff (``Retry-After`` honoured up to 8 s). Timeouts are not retried (a hung provider
fails in one timeout), and a stream is never retried once its response started. Proxy variables (``HTTPS_PROXY``,
``NO_PROXY``, ...) are honoured, as they were with httpx: read once, when the adapter is made (aiohttp's own
``trust_env`` reads them, and ``~/.netrc``, on a worker thread for every request).
"""

from __future__ import annotations

import asyncio
import random
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
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
    if isinstance(exc, TimeoutError):  # aiohttp's connect/read timeouts are TimeoutErrors (asyncio's too)
        return EngineError(f"The language model timed out during {what}.", 504)
    if isinstance(exc, ProviderStatusError):
        return EngineError(f"The language model provider answered {exc.status} during {what}: {exc.message}", 502)
    if isinstance(exc, aiohttp.ClientError):  # refused, reset, closed, or a body cut short
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


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def env_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url`` (``HTTP_PROXY``/``HTTPS_PROXY``, minus ``NO_PROXY``)."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme) or None


class OpenAIHttp:
    def __init__(self, base_url: str | None, api_key: str | None, timeout: float, max_retries: int = 1) -> None:
        self.base = (base_url or "https://api.openai.com/v1").rstrip("/")
        self.max_retries = max(0, max_retries)
        # like httpx.Timeout(timeout): a bound on getting a connection and on each wait for bytes, none on the whole
        # response (a long streamed reply is fine as long as it keeps coming)
        self.timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)
        self.headers = {"Authorization": f"Bearer {api_key or 'not-needed'}", "Content-Type": "application/json",
                        "Accept": "application/json"}
        self.proxy = env_proxy(self.base)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The adapter's session, made on first use inside the event loop that uses it (aiohttp binds a session to
        its loop; a process normally has one, tests may run several in turn)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=KEEPALIVE_EXPIRY)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, headers=self.headers,
                                                  proxy=self.proxy, read_bufsize=2**20)
            self._loop = loop
        return self._session

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else INITIAL_BACKOFF * 2**attempt * (0.75 + random.random() / 2)
        await asyncio.sleep(min(delay, MAX_BACKOFF))

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        content = orjson.dumps(body)
        attempt = 0
        while True:
            try:
                async with self._client().post(self.base + path, data=content) as response:
                    status, raw = response.status, await response.read()
                    retry_after = _retry_after(response)
            except TimeoutError:
                raise
            except aiohttp.ClientConnectionError:
                if attempt >= self.max_retries:
                    raise
                await self._backoff(attempt, None)
                attempt += 1
                continue
            if status >= 400:
                if status in RETRY_STATUSES and attempt < self.max_retries:
                    await self._backoff(attempt, retry_after)
                    attempt += 1
                    continue
                raise ProviderStatusError(status, _error_message(status, raw))
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ProviderStatusError(status, f"not JSON: {raw[:200]!r}") from exc

    @asynccontextmanager
    async def _open_stream(self, path: str, content: bytes) -> AsyncIterator[aiohttp.ClientResponse]:
        """A streamed response with a success status. Retried only before it started: once the caller reads it,
        any failure is the caller's."""
        attempt = 0
        while True:
            retry_after: float | None = None
            started = False
            try:
                async with self._client().post(self.base + path, data=content,
                                               headers={"Accept": "text/event-stream"}) as response:
                    if response.status < 400:
                        started = True
                        yield response
                        return
                    body = await response.read()
                    if response.status not in RETRY_STATUSES or attempt >= self.max_retries:
                        raise ProviderStatusError(response.status, _error_message(response.status, body))
                    retry_after = _retry_after(response)
            except TimeoutError:
                raise
            except aiohttp.ClientConnectionError:
                if started or attempt >= self.max_retries:
                    raise
            await self._backoff(attempt, retry_after)
            attempt += 1

    async def stream_events(self, path: str, body: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        """The JSON payloads of the ``data:`` lines of a server-sent event stream, until ``[DONE]``: one list per
        network read, holding every event that read completed. A provider that streams token by token sends many
        small events; those that arrive together (a busy process reads its socket less often) then cost the turn
        one pass through the engine and one NDJSON line instead of one each."""
        async with self._open_stream(path, orjson.dumps(body)) as response:
            done = False
            # Read to the body's end even after ``[DONE]``: a response closed unread takes its connection with it
            # instead of handing it back to the pool (the next call would pay a new TCP connect).
            async for lines in _line_groups(response):
                if done:
                    continue
                events, done, failure = _events(lines, response.status)
                if events:
                    yield events
                if failure is not None:  # after the events that came before it
                    raise failure

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def _line_groups(response: aiohttp.ClientResponse) -> AsyncIterator[list[bytes]]:
    """The complete lines of each network read of ``response`` (a line cut across reads comes with the read that
    ends it), then a last line left without its newline."""
    pending = b""
    async for block in response.content.iter_any():
        *lines, pending = (pending + block).split(b"\n")
        yield lines
    if pending:
        yield [pending]


def _events(lines: list[bytes], status: int) -> tuple[list[dict[str, Any]], bool, ProviderStatusError | None]:
    """The events of complete SSE lines, whether ``[DONE]`` was among them (what follows it is ignored), and the
    failure that ended them (an invalid or an error event: the events before it still count)."""
    events: list[dict[str, Any]] = []
    for raw in lines:
        if not raw.startswith(b"data:"):
            continue  # blank separators, ``event:``/``id:`` fields, ``:`` comments
        data = raw[5:].strip()
        if data == b"[DONE]":
            return events, True, None
        if not data:
            continue
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return events, False, ProviderStatusError(status, f"an invalid stream event {data[:200]!r}")
        if isinstance(event, dict) and event.get("error"):
            return events, False, ProviderStatusError(status, _error_message(status, data))
        events.append(event)
    return events, False, None
