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
        # The spec's path templates grouped by (segment count, first segment after the organization), both
        # spellings of a path falling in the same group; templates whose group a path cannot tell (a parameter
        # there, or a parameter spanning segments) are in ``_anywhere``. A request tries only its group's few.
        self._groups: dict[tuple[int, str | None], list[tuple[re.Pattern[str], int, frozenset[str]]]] | None = None
        self._anywhere: list[tuple[re.Pattern[str], int, frozenset[str]]] = []

    @staticmethod
    def _group(path: str) -> tuple[int, str | None]:
        parts = path.strip("/").split("/")
        return len(parts), parts[2] if len(parts) > 2 else None

    def _load(self, scope: Scope) -> dict[tuple[int, str | None], list[tuple[re.Pattern[str], int, frozenset[str]]]]:
        if self._groups is None:
            groups: dict[tuple[int, str | None], list[tuple[re.Pattern[str], int, frozenset[str]]]] = {}
            for path, ops in scope["app"].openapi().get("paths", {}).items():
                regex, _, _ = compile_path(path)
                literals = sum(1 for part in path.split("/") if part and not part.startswith("{"))
                template = (regex, literals, frozenset(m.upper() for m in ops))
                count, first = self._group(path)
                if ":path}" in path or (first is not None and first.startswith("{")):
                    self._anywhere.append(template)
                else:
                    groups.setdefault((count, first), []).append(template)
            self._groups = groups
        return self._groups

    def _score(self, path: str, method: str, groups) -> int:
        best = -1
        for regex, literals, methods in (*groups.get(self._group(path), ()), *self._anywhere):
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
