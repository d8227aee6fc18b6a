"""FastAPI runs a plain ``def`` endpoint or dependency on a worker thread: a thread hop (and a wake-up of another
thread competing for the GIL) on every request that uses it. Every endpoint and dependency of the API is async."""

from __future__ import annotations

import inspect

from fastapi import routing

from tertulia.app import create_app
from tertulia.core.routing import route_paths


def _is_async(call) -> bool:  # noqa: ANN001
    return (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
            or inspect.iscoroutinefunction(getattr(call, "__call__", None)))


def test_every_endpoint_and_dependency_is_async():
    app = create_app(None)
    sync: set[str] = set()

    def walk(dependant) -> None:  # noqa: ANN001
        for dep in dependant.dependencies:
            if dep.call is not None and not _is_async(dep.call):
                sync.add(f"dependency {dep.call.__module__}.{dep.call.__qualname__}")
            walk(dep)

    api = [r for path, r in route_paths(app.routes)
           if isinstance(r, routing.APIRoute) and path.startswith(("/v1", "/console", "/healthz"))]
    assert len(api) > 90
    for route in api:
        walk(route.dependant)
        if not _is_async(route.endpoint):
            sync.add(f"endpoint {route.endpoint.__module__}.{route.endpoint.__qualname__}")
    assert not sync, sorted(sync)
