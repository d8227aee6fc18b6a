"""The credential schemes in the OpenAPI schema: each operation whose dependencies include a principal dependency
(``auth.deps.SCHEMES``) lists the schemes it accepts under ``security``, and the schemes are described under
``components.securitySchemes``, as FastAPI would write them for security dependencies (the principal dependencies
read the credentials straight off the request instead, which costs a request far less)."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from tertulia.auth.deps import SCHEMES
from tertulia.core.routing import amend_openapi, route_paths


def _calls(dependant: Any) -> list[Any]:
    found, stack = [], list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def _security(route: APIRoute) -> tuple[Any, ...]:
    return next((SCHEMES[call] for call in _calls(route.dependant) if call in SCHEMES), ())


def document_security(app: Any) -> None:
    """Document each operation's credential schemes on ``app``'s OpenAPI schema."""

    def amend(schema: dict[str, Any]) -> None:
        used: dict[str, Any] = {}
        for path, route in route_paths(app.routes):
            schemes = _security(route) if isinstance(route, APIRoute) and route.include_in_schema else ()
            if not schemes:
                continue
            item = schema.get("paths", {}).get(path, {})
            for method in route.methods:
                operation = item.get(method.lower())
                if isinstance(operation, dict):
                    operation["security"] = [{s.scheme_name: []} for s in schemes]
            used.update({s.scheme_name: s.model.model_dump(mode="json", by_alias=True, exclude_none=True) for s in schemes})
        if used:
            schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(used)

    amend_openapi(app, amend)
