"""Router conventions: every domain router lives under ``/v1/{organization}`` and is rate limited per operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re

from fastapi import APIRouter, Depends, Request
from fastapi import routing as fastapi_routing
from starlette.routing import Match, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from tertulia.core.message_limits import message_limits
from tertulia.core.ratelimit import rate_limit


ORG_PREFIX = "/v1/{organization}/"


class DomainRouter(APIRouter):
    """An ``APIRouter`` whose routes all sit under ``/v1/{organization}/<literal>...``: it tells in one split that a
    path cannot be its own (the segment after the organization is none of its literals) instead of trying each
    route's regex. FastAPI matches the app's included routers one by one, so a request to a router late in
    ``app.DOMAINS`` paid every earlier router's regexes. A router with any other route shape (a parameter or nothing
    after the organization, a nested router) is matched as FastAPI does. Recomputed when its routes change."""

    _firsts: tuple[Any, frozenset[str] | None] = (None, None)

    def _first_segments(self) -> frozenset[str] | None:
        key = (getattr(self, "_routes_version", None), len(self.routes))  # FastAPI's counter where it has one
        if self._firsts[0] != key:
            firsts: set[str] | None = set()
            for route in self.routes:
                path = getattr(route, "path_format", None)
                if not isinstance(route, fastapi_routing.APIRoute) or not path or not path.startswith(ORG_PREFIX):
                    firsts = None
                    break
                first = path[len(ORG_PREFIX):].split("/", 1)[0]
                if not first or "{" in first:
                    firsts = None
                    break
                firsts.add(first)
            self._firsts = (key, frozenset(firsts) if firsts is not None else None)
        return self._firsts[1]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        firsts = self._first_segments()
        if firsts is not None:
            parts = _route_path(scope).split("/", 4)  # "", "v1", organization, first segment, rest
            if len(parts) < 4 or parts[1] != "v1" or parts[3] not in firsts:
                return Match.NONE, {}
        return super().matches(scope)


def _route_path(scope: Scope) -> str:
    """The path a router matches: the request path without the app's ``root_path`` (as Starlette computes it)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] == "/":
        return path[len(root):]
    return path


async def guard(request: Request) -> None:
    """The router-level checks of every domain operation, in this order: the rate limit, then the message limits.

    One dependency rather than two: FastAPI solves each dependency as a nested dependant (a recursive
    ``solve_dependencies`` with its four parameter passes, cache key and call-type checks) on every request, and
    neither check declares a parameter, so splitting them bought nothing but a second solve."""
    await rate_limit(request)
    await message_limits(request)


def domain_router(tag: str) -> APIRouter:
    return DomainRouter(
        prefix="/v1/{organization}",
        tags=[tag],
        dependencies=[Depends(guard)],
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


# Headers every operation of the spec declares, accepted and ignored. They are documented on each operation of the
# schema (``document_common_headers``) rather than declared as a dependency: FastAPI would parse and validate them on
# every request for nothing.
COMMON_HEADERS = (
    {"name": "x-mongo-cluster-name", "in": "header", "required": False,
     "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "X-Mongo-Cluster-Name",
                "description": "Accepted for compatibility and ignored: tertulia has one database per deployment."},
     "description": "Accepted for compatibility and ignored: tertulia has one database per deployment."},
    {"name": "Sec-WebSocket-Protocol", "in": "header", "required": False,
     "schema": {"type": "array", "items": {"type": "string"}, "default": [], "title": "Sec-Websocket-Protocol"}},
)


def route_paths(routes: Any) -> list[tuple[str, Any]]:
    """Every route under ``routes`` (an app's or a router's) with its full path, through the routers they include:
    recent FastAPI keeps an included router as one route whose own routes know only their part of the path."""
    contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if contexts is None:
        return [(getattr(r, "path_format", ""), r) for r in routes]
    return [(c.path_format, c.original_route) for c in contexts(list(routes))]


def amend_openapi(app: Any, amend: Callable[[dict[str, Any]], None]) -> None:
    """Wrap ``app.openapi`` so ``amend`` edits each schema it builds, once (FastAPI rebuilds it when routes change)."""
    build = app.openapi
    done: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        if id(schema) not in done:
            done[:] = [id(schema)]
            amend(schema)
        return schema

    app.openapi = openapi


def document_common_headers(app: Any) -> None:
    """Add ``COMMON_HEADERS`` to every ``/v1/{organization}`` operation of ``app``'s OpenAPI schema."""

    def amend(schema: dict[str, Any]) -> None:
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/v1/{organization}"):
                continue
            for operation in operations.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    params = operation.setdefault("parameters", [])
                    names = {p["name"] for p in params}
                    params.extend(dict(h) for h in COMMON_HEADERS if h["name"] not in names)

    amend_openapi(app, amend)
