"""Unknown request fields are ignored, at every level, on every JSON create/update of the app's route table (a newer
SDK sending a new field keeps working), while responses stay exactly the documented shape."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.routes import concrete_path, json_write_operations

UNKNOWN = "tertulia_future_field"
MAX_VARIANTS = 8


class Skeleton:
    """Bodies shaped like a JSON schema: every property present, one item per array, one unknown key per object.
    Variant ``k`` takes alternative ``k`` (mod their number) at every union, so the variants reach every branch."""

    def __init__(self, doc: dict) -> None:
        self.doc = doc
        self.widest = 1

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.doc["components"]["schemas"][node["$ref"].split("/")[-1]]
        return node

    def build(self, node: dict, k: int, depth: int = 0) -> Any:
        node = self.resolve(node)
        if depth > 10:
            return None
        for key in ("oneOf", "anyOf"):
            if key in node:
                options = [o for o in node[key] if self.resolve(o).get("type") != "null"] or node[key]
                self.widest = max(self.widest, len(options))
                return self.build(options[k % len(options)], k, depth + 1)
        if "allOf" in node:
            return self.build(node["allOf"][0], k, depth + 1)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return node["enum"][0]
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            body = {name: self.build(prop, k, depth + 1) for name, prop in node.get("properties", {}).items()}
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) or "patternProperties" in node:  # a map: its keys are data, not fields
                if isinstance(extra, dict) and extra and not node.get("properties"):
                    body["some_key"] = self.build(extra, k, depth + 1)
            else:
                body[UNKNOWN] = {"nested": [1, "two"]}
            return body
        if kind == "array":
            return [self.build(node.get("items", {}), k, depth + 1)]
        return {"integer": 1, "number": 1.5, "boolean": True, "string": "x"}.get(kind, "x")


def _extra_errors(response: httpx.Response) -> list[Any]:
    if response.status_code != 422:
        return []
    detail = response.json()["detail"]
    return [e for e in detail if isinstance(e, dict) and (e.get("type") == "extra_forbidden" or UNKNOWN in e.get("loc", []))]


async def test_unknown_fields_are_ignored_at_every_level_of_every_json_write(client, tenant):
    doc = (await client.get("/openapi.json")).json()
    operations = json_write_operations(doc)
    assert len(operations) >= 30
    refused, crashed = [], []
    for method, path, op in operations:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        skeleton = Skeleton(doc)
        k = 0
        while k < min(skeleton.widest, MAX_VARIANTS):
            body = skeleton.build(schema, k)
            k += 1
            url = concrete_path(path, op, tenant.org_id)
            r = await client.request(method.upper(), url, json=body, headers=tenant.headers)
            if r.status_code >= 500:
                crashed.append(f"{op['operationId']}: {r.status_code}")
            if _extra_errors(r):
                refused.append(f"{op['operationId']} (variant {k - 1}): {_extra_errors(r)[:2]}")
    assert not crashed, crashed
    assert not refused, "\n".join(refused)


async def test_a_create_and_update_with_new_fields_work_and_answer_the_documented_shape(client, tenant):
    h = tenant.headers
    r = await client.post(tenant.url("/organization/agent"), json={"agent_name": "Newer SDK", "agent_color": "blue"},
                          headers=h)
    assert r.status_code == 201, r.text
    agent_id = r.json()["id"]
    version = {
        "initials": "NS", "background": "A coach.", "behaviors": ["Listen."], "communication_patterns": ["Short."],
        "identity": {"name": "Nia", "role": "Coach", "developed_by": "Tertulia", "default_spoken_language": "eng",
                     "pronouns": "she/her",
                     "relationship_to_developer": {"ownership": "Tertulia", "type": "assistant", "mood": "calm",
                                                   "conversation_visibility": "visible", "thought_visibility": "visible"}},
        "voice_config": {"voice_id": "alloy", "speed_boost": 2},
        "future_section": {"anything": True},
    }
    r = await client.post(tenant.url(f"/organization/agent/{agent_id}/"), json=version, headers=h)
    assert r.status_code == 201, r.text
    listed = (await client.get(tenant.url(f"/organization/agent/{agent_id}/version"), headers=h)).json()
    stored = listed["agent_versions"][0]
    assert stored["identity"]["name"] == "Nia" and "pronouns" not in stored["identity"]
    assert "future_section" not in stored and "mood" not in stored["identity"]["relationship_to_developer"]
    body = {"default_user_preferences": {"preferred_language": "spa", "dark_mode": True}, "brand_new_flag": 1}
    r = await client.post(tenant.url("/organization/"), json=body, headers=h)
    assert r.status_code == 204, r.text
    org = (await client.get(tenant.url("/organization/"), headers=h)).json()
    assert org["default_user_preferences"]["preferred_language"] == "spa"
    assert "brand_new_flag" not in org and "dark_mode" not in org["default_user_preferences"]
