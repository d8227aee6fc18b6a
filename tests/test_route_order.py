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
