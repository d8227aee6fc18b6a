"""HTTP side of observability: a pure ASGI middleware and the ``/metrics`` and ``/readyz`` routes.

The middleware, for every request: takes ``X-Request-ID`` from the client when it is a short safe token (else makes
one) and echoes it in the response; binds ``request_id`` and the organization / conversation ids found in the path to
the log context; counts the response by the route's ``operation_id`` (the spec's operationId) and status, and times
it to the last byte of the body (streamed turns included).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tertulia.observability import context

UNCOUNTED = frozenset({"/metrics", "/healthz", "/readyz"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_ORG = re.compile(r"^/v1/([^/]+)/")
_CONVERSATION = re.compile(r"^/v1/[^/]+/conversation/([a-f0-9]{24})(?:/|$)")

router = APIRouter(include_in_schema=False)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from tertulia.observability import metrics

        path = scope.get("path", "")
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        org = _ORG.match(path)
        conversation = _CONVERSATION.match(path)
        ids = {
            "request_id": request_id,
            "org_id": org.group(1) if org else None,
            "conversation_id": conversation.group(1) if conversation else None,
        }
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            with context.bound(**ids):
                await self.app(scope, receive, send_wrapper)
        finally:
            if path not in UNCOUNTED:
                route = scope.get("route")
                operation = getattr(route, "operation_id", None) or ("unmatched" if route is None else "other")
                metrics.labelled(metrics.HTTP_RESPONSES, operation, scope.get("method", ""), str(status["code"])).inc()
                metrics.labelled(metrics.HTTP_DURATION, operation).observe(time.perf_counter() - started)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            try:
                return value.decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    from tertulia.observability import metrics
    from tertulia.observability.settings import ObservabilitySettings

    if not ObservabilitySettings().metrics_enabled:
        return JSONResponse({"detail": "Metrics are disabled (TERTULIA_METRICS_ENABLED=false)."}, status_code=404)
    runtime = getattr(request.app.state, "runtime", None)
    body, content_type = await metrics.render(runtime.db if runtime is not None else None,
                                              getattr(request.app.state, "gauges", None))
    return Response(body, media_type=content_type)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    from tertulia.observability.health import readiness

    runtime: Any = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return JSONResponse({"status": "starting", "checks": {}}, status_code=503)
    ready, checks = await readiness(runtime)
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503)
