"""A repeatable audit of every request body against the reference OpenAPI: walking the spec's request schema and the
app's own (from /openapi.json) side by side, the required fields, types, enums and constraints (exclusiveMinimum,
maxLength, pattern, maxItems, ...) must agree, and no request schema may forbid additional properties (the spec's
never do). The few deliberate differences are listed in ``DELIBERATE`` with their reason."""

from __future__ import annotations

from typing import Any

from tertulia.core.languages import _zones as accepted_time_zones
from tertulia.core.languages import iso639_3
from tests.support.reference import reference_spec

CONSTRAINTS = ("type", "exclusiveMinimum", "minimum", "maximum", "exclusiveMaximum", "minLength", "maxLength",
               "pattern", "minItems", "maxItems", "minProperties", "maxProperties", "const", "format")

# location prefix -> why tertulia differs on purpose
DELIBERATE = {
    "interact-with-conversation": "multipart body: the spec's three oneOf variants (user-message, external-event, "
                                  "skip) are checked by the handler, the schema documents their union",
    ".llm_model_preferences{}.llm_name": "llm_name is an open routing key mapped to the deployment's own models "
                                         "(TERTULIA_LLM_MODEL_MAP), see service/schemas.py",
}


def _resolve(doc: dict, node: Any) -> Any:
    for _ in range(20):
        if not (isinstance(node, dict) and "$ref" in node):
            break
        node = doc["components"]["schemas"][node["$ref"].split("/")[-1]]
    return node


def _branches(doc: dict, node: Any) -> list[dict]:
    node = _resolve(doc, node)
    if not isinstance(node, dict):
        return []
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return [b for sub in node[key] for b in _branches(doc, sub)]
    return [node]


def _enum_equivalent(spec_enum: list, ours: dict) -> bool:
    """Enums the app validates in code (not in its schema) against the same lists."""
    values = set(spec_enum)
    if values == set(iso639_3()):
        return True
    return "Africa/Abidjan" in values and values <= accepted_time_zones()


class Audit:
    def __init__(self, spec: dict, ours: dict) -> None:
        self.spec, self.ours, self.problems = spec, ours, []

    def report(self, where: str, text: str) -> None:
        if not any(where.startswith(p) or p in where for p in DELIBERATE):
            self.problems.append(f"{where}: {text}")

    def compare(self, where: str, theirs: Any, mine: Any, depth: int = 0) -> None:
        if depth > 12:
            return
        a = [b for b in _branches(self.spec, theirs) if b.get("type") != "null"]
        b = [b for b in _branches(self.ours, mine) if b.get("type") != "null"]
        for node in b:
            if node.get("additionalProperties") is False:
                self.report(where, "our schema forbids additional properties")
        objects_a = [n for n in a if "properties" in n]
        objects_b = [n for n in b if "properties" in n]
        if len(objects_a) == 1 and len(objects_b) == 1:
            self.compare_object(where, objects_a[0], objects_b[0], depth)
        elif len(a) == 1 and len(b) == 1:
            self.compare_leaf(where, a[0], b[0], depth)
        elif len(a) != len(b):
            self.report(where, f"{len(a)} alternatives in the spec, {len(b)} in ours")

    def compare_object(self, where: str, x: dict, y: dict, depth: int) -> None:
        required_x, required_y = set(x.get("required", [])), set(y.get("required", []))
        # Required but nullable in the spec: the official SDK drops None values (exclude_none), so an absent key must
        # mean null; such fields are optional (default null) here.
        required_x -= {name for name in required_x - required_y if any(
            b.get("type") == "null" for b in _branches(self.spec, x["properties"][name]))}
        if required_x - required_y:
            self.report(where, f"the spec requires {sorted(required_x - required_y)}, we do not")
        if required_y - required_x:
            self.report(where, f"we require {sorted(required_y - required_x)}, the spec does not")
        if set(x["properties"]) - set(y["properties"]):
            self.report(where, f"properties we lack: {sorted(set(x['properties']) - set(y['properties']))}")
        for name, prop in x["properties"].items():
            if name in y["properties"]:
                self.compare(f"{where}.{name}", prop, y["properties"][name], depth + 1)

    def compare_leaf(self, where: str, x: dict, y: dict, depth: int) -> None:
        for key in CONSTRAINTS:
            if x.get(key) != y.get(key) and not (key == "type" and {x.get(key), y.get(key)} == {"integer", "number"}
                                                  and x.get(key) == "integer"):
                if key in ("minLength", "maxLength") and "enum" in x and "enum" not in y and _enum_equivalent(x["enum"], y):
                    continue
                self.report(where, f"{key}: spec {x.get(key)!r}, ours {y.get(key)!r}")
        if "enum" in x and set(x["enum"]) != set(y.get("enum", [])) and not _enum_equivalent(x["enum"], y):
            self.report(where, f"enum: spec {sorted(x['enum'])[:6]}..., ours {y.get('enum')}")
        if x.get("type") == "array":
            self.compare(where + "[]", x.get("items", {}), y.get("items", {}), depth + 1)
        if isinstance(x.get("additionalProperties"), dict) and isinstance(y.get("additionalProperties"), dict):
            self.compare(where + "{}", x["additionalProperties"], y["additionalProperties"], depth + 1)


def _operations(doc: dict) -> dict[str, dict]:
    return {op["operationId"]: op for item in doc["paths"].values() for op in item.values()
            if isinstance(op, dict) and "operationId" in op}


async def test_every_request_schema_matches_the_reference(client):
    spec = reference_spec()
    ours_doc = (await client.get("/openapi.json")).json()
    audit = Audit(spec, ours_doc)
    theirs, ours = _operations(spec), _operations(ours_doc)
    audited = 0
    for op_id, op in theirs.items():
        body = op.get("requestBody")
        if op_id not in ours or not body:
            continue
        mine = ours[op_id].get("requestBody")
        if not mine:
            audit.report(op_id, "the spec has a request body, we take none")
            continue
        for content_type, media in body["content"].items():
            if content_type not in mine["content"]:
                audit.report(op_id, f"we do not accept {content_type}")
                continue
            audit.compare(op_id, media["schema"], mine["content"][content_type]["schema"])
            audited += 1
        if body.get("required") and not mine.get("required"):
            audit.report(op_id, "the spec requires a body, ours is optional")
    assert audited >= 40
    assert not audit.problems, "\n".join(audit.problems)


async def test_no_request_schema_of_ours_forbids_unknown_fields(client):
    """Also the operations the reference does not know (seed-only extras): none says additionalProperties false."""
    doc = (await client.get("/openapi.json")).json()
    forbidding = sorted(name for name, schema in doc["components"]["schemas"].items()
                        if schema.get("additionalProperties") is False)
    assert not forbidding, forbidding
