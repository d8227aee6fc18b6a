"""A lean HTTP/1.1 client for ``load.py``'s timed requests: raw asyncio streams, keep-alive connections per host, a
request written in one piece and the response read as it comes (``Content-Length`` or chunked).

The load client shares the host's cores with the servers; httpx's per-request machinery (models, header
normalisation, its connection pool and multipart encoder) cost it about as much CPU per turn as the server under
test spends, so two server processes gained little. This one does only what the load needs: ``GET`` and ``POST``
with a body already encoded (``multipart_body`` writes the interact's form as httpx would), and a callback at the
first body bytes (time to first event).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlsplit

IDLE_SECONDS = 2.0  # drop idle connections before uvicorn's keep-alive timeout (5 s) closes them under us
BOUNDARY = "tertulialoadboundary0123456789"


class HTTPFailure(Exception):
    """The connection failed or the response could not be read."""


def multipart_body(fields: list[tuple[str, str | tuple[str, bytes, str]]]) -> tuple[bytes, str]:
    """A multipart/form-data body: ``(name, text)`` fields and ``(name, (filename, data, content_type))`` files."""
    out = bytearray()
    for name, value in fields:
        out += f"--{BOUNDARY}\r\n".encode()
        if isinstance(value, str):
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
        else:
            filename, data, content_type = value
            out += (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    f"Content-Type: {content_type}\r\n\r\n").encode() + data
        out += b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={BOUNDARY}"


class LeanClient:
    def __init__(self, timeout: float = 60) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]]] = {}

    async def _connection(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        idle = self._idle.get((host, port), [])
        now = time.monotonic()
        while idle:
            reader, writer, since = idle.pop()
            if now - since < IDLE_SECONDS and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(host, port)

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes = b"",
                      content_type: str | None = None, on_first_bytes: Callable[[], None] | None = None
                      ) -> tuple[int, bytes]:
        """The status and the whole body; ``on_first_bytes`` is called when the first body bytes arrive."""
        try:
            return await asyncio.wait_for(self._request(method, url, headers, body, content_type, on_first_bytes),
                                          self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
            raise HTTPFailure(f"{type(exc).__name__}: {exc}") from exc

    async def _request(self, method: str, url: str, headers: dict[str, str], body: bytes, content_type: str | None,
                       on_first_bytes: Callable[[], None] | None) -> tuple[int, bytes]:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head = [f"{method} {target} HTTP/1.1", f"host: {host}:{port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if content_type is not None:
            head.append(f"content-type: {content_type}")
        if body or method == "POST":
            head.append(f"content-length: {len(body)}")
        reader, writer = await self._connection(host, port)
        try:
            status, data, close = await self._exchange(reader, writer, ("\r\n".join(head) + "\r\n\r\n").encode()
                                                       + body, on_first_bytes)
        except BaseException:
            writer.close()  # a half-read response leaves the connection unusable
            raise
        if close:
            writer.close()
        else:
            self._idle.setdefault((host, port), []).append((reader, writer, time.monotonic()))
        return status, data

    @staticmethod
    async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
                        on_first_bytes: Callable[[], None] | None) -> tuple[int, bytes, bool]:
        """Write one request and read its response: the status, the body, and whether the server closes."""
        writer.write(request)
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = None, False, False
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                close = True
        if chunked:
            pieces = []
            while (size := int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)) != 0:
                pieces.append(await reader.readexactly(size))
                await reader.readexactly(2)
                if len(pieces) == 1 and on_first_bytes is not None:
                    on_first_bytes()
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            data = b"".join(pieces)
        else:
            data = await reader.readexactly(length or 0)
            if data and on_first_bytes is not None:
                on_first_bytes()
        return status, data, close

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for _, writer, _ in idle:
                writer.close()
        self._idle.clear()
