"""Router conventions: every domain router lives under ``/v1/{organization}`` and is rate limited per operation."""

from __future__ import annotations

from typing import Annotated

import re

from fastapi import APIRouter, Depends, Header
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from tertulia.core.message_limits import message_limits
from tertulia.core.ratelimit import rate_limit


def domain_router(tag: str) -> APIRouter:
    return APIRouter(
        prefix="/v1/{organization}",
        tags=[tag],
        dependencies=[Depends(rate_limit), Depends(message_limits), Depends(common_headers)],
    )


class SlashTolerance:
    """ASGI middleware: serve each path with and without its trailing slash (no 307: httpx does not follow it).

    The spec's spelling is the registered route. When a request's path (for its method) is better served by the
    other spelling -- it matches only there, or there through more literal segments (``/role/temporary_permission_grant``
    must reach the literal route, not ``/role/{role_name}``) -- the path is rewritten before routing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: list[tuple[re.Pattern[str], int, frozenset[str]]] | None = None

    def _load(self, scope: Scope) -> list[tuple[re.Pattern[str], int, frozenset[str]]]:
        if self._templates is None:
            paths = scope["app"].openapi().get("paths", {})
            templates = []
            for path, ops in paths.items():
                regex, _, _ = compile_path(path)
                literals = sum(1 for part in path.split("/") if part and not part.startswith("{"))
                templates.append((regex, literals, frozenset(m.upper() for m in ops)))
            self._templates = templates
        return self._templates

    def _score(self, path: str, method: str, templates) -> int:
        best = -1
        for regex, literals, methods in templates:
            if method in methods and regex.match(path):
                best = max(best, literals)
        return best

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith("/v1/") and len(path) > 4:
            templates = self._load(scope)
            method = "GET" if scope["method"] == "HEAD" else scope["method"]
            other = path[:-1] if path.endswith("/") else path + "/"
            if self._score(other, method, templates) > self._score(path, method, templates):
                scope = dict(scope, path=other, raw_path=other.encode())
        await self.app(scope, receive, send)


async def common_headers(
    x_mongo_cluster_name: Annotated[
        str | None,
        Header(
            alias="x-mongo-cluster-name",
            description="Accepted for compatibility and ignored: tertulia has one database per deployment.",
        ),
    ] = None,
    sec_websocket_protocol: Annotated[list[str], Header(alias="Sec-WebSocket-Protocol")] = [],  # noqa: B006
) -> None:
    """Headers every operation of the spec declares; accepted and ignored."""
