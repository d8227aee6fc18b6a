"""The app's own route table as tests walk it: every operation with a JSON request body, with concrete paths."""

from __future__ import annotations

OBJECT_ID = "5f0c3a0b1d2e3f4a5b6c7d8e"


def json_write_operations(openapi: dict) -> list[tuple[str, str, dict]]:
    """(method, path, operation) of every operation whose request body is JSON, as the app itself declares it."""
    ops = []
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            content = (op.get("requestBody") or {}).get("content", {})
            if method in ("post", "put", "patch", "delete") and "application/json" in content:
                ops.append((method, path, op))
    return ops


def concrete_path(path: str, op: dict, org_id: str) -> str:
    for param in op.get("parameters", []):
        if param["in"] != "path":
            continue
        value = org_id if param["name"] == "organization" else (
            OBJECT_ID if "pattern" in (param.get("schema") or {}) else "some-name")
        path = path.replace("{" + param["name"] + "}", value)
    return path
