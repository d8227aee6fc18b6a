"""The NDJSON response: one event per line, sent as produced, with the stream always closed (and so cleaned up)."""

from __future__ import annotations

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class NDJSONResponse(StreamingResponse):
    media_type = "application/x-ndjson"

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
