"""The routers are matched in ``app.DOMAINS`` order, the turn routes first (they serve every interact). Whatever the
order, each route must be the one that serves the paths it was written for: the first router that fully matches a
sample of its path (and method) is its own (``identity``'s sign-in before ``user``'s ``/user/{id}`` is the one order
that matters today)."""

from __future__ import annotations

import re

from fastapi import routing
from starlette.routing import Match

from tertulia.app import DOMAINS, create_app
from tertulia.core.routing import route_paths

SAMPLE_ID = "0123456789abcdef01234567"


def _sample(path: str) -> str:
    return re.sub(r"\{[^}]+\}", SAMPLE_ID, path)


def _routes_by_router() -> dict[int, list[tuple[str, str, routing.APIRoute]]]:
    app = create_app(None)
    owners: dict[int, list[tuple[str, str, routing.APIRoute]]] = {}
    for index, router in enumerate(app.router.routes):
        for path, route in route_paths([router]):
            for method in getattr(route, "methods", None) or ():
                owners.setdefault(index, []).append((method, path, router))
    return owners


def test_turn_routes_come_first():
    assert DOMAINS[0] == "turns"


def test_each_route_is_served_by_its_own_router():
    owners = _routes_by_router()
    routers = {index: routes[0][2] for index, routes in owners.items()}
    wrong = []
    for index, routes in owners.items():
        for method, path, _ in routes:
            scope = {"type": "http", "method": method, "path": _sample(path), "root_path": "", "headers": [],
                     "query_string": b""}
            first = next(i for i in sorted(routers) if routers[i].matches(dict(scope))[0] == Match.FULL)
            if first != index:
                wrong.append((method, path, first))
    assert not wrong, wrong


def test_domain_router_skips_paths_of_other_routers_and_follows_new_routes():
    """A domain router answers NONE at once for a path whose segment after the organization is none of its literals,
    serves its own paths as before, and sees a route added after its first request; a router with a parameter
    right after the organization is matched route by route."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from tertulia.core.routing import DomainRouter

    # as domain_router() builds them, without its rate-limit dependencies (they need the app's runtime)
    first, other = DomainRouter(prefix="/v1/{organization}"), DomainRouter(prefix="/v1/{organization}")

    @first.get("/alpha/{item}", operation_id="alpha")
    async def alpha(organization: str, item: str) -> dict[str, str]:
        return {"router": "first", "item": item}

    @other.get("/{anything}/beta", operation_id="beta")
    async def beta(organization: str, anything: str) -> dict[str, str]:
        return {"router": "other", "anything": anything}

    app = FastAPI()
    app.include_router(first)
    app.include_router(other)
    with TestClient(app) as client:
        assert client.get("/v1/org/alpha/7").json() == {"router": "first", "item": "7"}
        assert client.get("/v1/org/gamma/beta").json() == {"router": "other", "anything": "gamma"}
        assert client.get("/v1/org/gamma/7").status_code == 404
        assert first._first_segments() == frozenset({"alpha"}) and other._first_segments() is None

        @first.get("/gamma/{item}", operation_id="gamma")
        async def gamma(organization: str, item: str) -> dict[str, str]:
            return {"router": "first", "gamma": item}

        assert client.get("/v1/org/gamma/7").json() == {"router": "first", "gamma": "7"}
        assert first._first_segments() == frozenset({"alpha", "gamma"})
