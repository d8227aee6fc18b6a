"""The NDJSON response: one event per line, sent as produced, with the stream always closed (and so cleaned up).

A body chunk of type ``FinalLines`` is the body's last: it goes out with ``more_body=False``, so the end of the
chunked body travels in the same write as the last events instead of a write (and a read by the client) of its own.
"""

from __future__ import annotations

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class FinalLines(bytes):
    """The last lines of a body: nothing follows them."""


class NDJSONResponse(StreamingResponse):
    media_type = "application/x-ndjson"

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            final = isinstance(chunk, FinalLines)
            await send({"type": "http.response.body", "body": bytes(chunk), "more_body": not final})
            if final:
                return  # the body iterator is closed by ``__call__``
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def __init__(self, content, status_code: int = 200) -> None:  # noqa: ANN001
        super().__init__(content, status_code=status_code, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A client that went away leaves the body generator suspended; close it now (not whenever the garbage
            # collector gets to it) so its ``finally`` discards the turn and frees the lease promptly.
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
