"""Malformed and oversized bodies on every JSON write operation of the app's own route table: 422 (or 413 for size)
with a readable ``detail``, never a 500, and nothing done. Message-text and multipart limits on the conversation
operations answer before any lookup (an unknown conversation still answers the limit, not 404)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.conversation import events_of, interact, make_service
from tests.support.orgs import Tenant
from tests.support.routes import OBJECT_ID, concrete_path, json_write_operations

MALFORMED = {
    "nan": b'{"name": NaN, "agent_name": NaN, "service_id": NaN}',
    "infinity": b'{"name": Infinity}',
    "minus_infinity": b'[-Infinity]',
    "overflowing_number": b'{"name": 1e999}',
    "lone_surrogate_value": b'{"name": "\\ud800", "agent_name": "\\udfff", "service_id": "\\ud83d"}',
    "lone_surrogate_key": b'{"\\udc00": "value"}',
    "invalid_utf8": b'{"name": "\xff\xfe"}',
    "truncated": b'{"name": ',
    "not_json": b"name=value",
    "deep_nesting": b"[" * 5000 + b"]" * 5000,
    "huge_integer": b'{"name": ' + b"9" * 6000 + b"}",
}


def assert_readable_detail(response: httpx.Response) -> None:
    detail = json.loads(response.content.decode("utf-8"))["detail"]
    if isinstance(detail, str):
        assert detail
        return
    assert isinstance(detail, list) and detail
    for item in detail:
        assert isinstance(item["msg"], str) and item["msg"] and isinstance(item["loc"], list) and item["type"]


@pytest.fixture
async def operations(client: httpx.AsyncClient) -> list[tuple[str, str, dict]]:
    ops = json_write_operations((await client.get("/openapi.json")).json())
    assert len(ops) >= 30, len(ops)  # the route table, not a hand-picked list
    return ops


@pytest.fixture
def small_json_cap(runtime) -> Iterator[int]:
    previous = runtime.settings.max_json_body_bytes
    runtime.settings.max_json_body_bytes = 2048
    yield 2048
    runtime.settings.max_json_body_bytes = previous


@pytest.mark.parametrize("kind", sorted(MALFORMED))
async def test_malformed_json_answers_422_on_every_json_write_operation(kind, client, tenant: Tenant, operations):
    failures = []
    for method, path, op in operations:
        url = concrete_path(path, op, tenant.org_id)
        headers = {**tenant.headers, "content-type": "application/json"}
        r = await client.request(method.upper(), url, content=MALFORMED[kind], headers=headers)
        if r.status_code != 422:
            failures.append(f"{op['operationId']}: {r.status_code} {r.text[:120]}")
            continue
        assert_readable_detail(r)
    assert not failures, "\n".join(failures)


async def test_undecodable_bodies_of_other_content_types_answer_a_readable_422(client, tenant: Tenant, operations):
    """A JSON operation sent raw bytes (no or another content type): FastAPI echoes the input; it must still encode."""
    for method, path, op in operations[:20]:
        url = concrete_path(path, op, tenant.org_id)
        for content_type in (None, "text/plain", "application/octet-stream"):
            headers = dict(tenant.headers) | ({"content-type": content_type} if content_type else {})
            r = await client.request(method.upper(), url, content=b"\xff\xfe\xed\xa0\x80", headers=headers)
            assert r.status_code == 422, (op["operationId"], content_type, r.status_code, r.text[:200])
            assert_readable_detail(r)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_json_answers_413_on_every_json_write_operation(chunked, client, tenant, operations, small_json_cap):
    body = json.dumps({"name": "x" * (small_json_cap + 10)}).encode()

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 512):
            yield body[i:i + 512]

    failures = []
    for method, path, op in operations:
        url = concrete_path(path, op, tenant.org_id)
        headers = {**tenant.headers, "content-type": "application/json"}
        r = await client.request(method.upper(), url, content=stream() if chunked else body, headers=headers)
        if r.status_code != 413 or "TERTULIA_MAX_JSON_BODY_BYTES" not in r.json()["detail"]:
            failures.append(f"{op['operationId']}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


async def test_a_body_under_the_cap_still_works(client, tenant, small_json_cap):
    url = tenant.url("/organization/agent")
    body = json.dumps({"agent_name": "a" * 200}).encode()
    r = await client.post(url, content=body + b" " * (small_json_cap - len(body)),
                          headers={**tenant.headers, "content-type": "application/json"})
    assert r.status_code == 201, r.text
    r = await client.post(url, content=body + b" " * (small_json_cap - len(body) + 1),
                          headers={**tenant.headers, "content-type": "application/json"})
    assert r.status_code == 413, r.text


async def test_nothing_is_created_by_a_rejected_body(client, tenant):
    url = tenant.url("/organization/agent")
    before = (await client.get(url, headers=tenant.headers)).json()["agents"]
    for body in (b'{"agent_name": NaN}', b'{"agent_name": "\\ud800"}', b'{"agent_name": "x", "extra": Infinity}'):
        r = await client.post(url, content=body, headers={**tenant.headers, "content-type": "application/json"})
        assert r.status_code == 422
    assert (await client.get(url, headers=tenant.headers)).json()["agents"] == before


async def test_a_huge_initial_message_is_refused_before_the_llm_sees_it(client, tenant, runtime):
    ready = await make_service(client, tenant)
    calls = len(runtime.llm.requests)
    url = tenant.url("/conversation/?response_format=text")
    huge = {"service_id": ready.service_id, "initial_message": "x" * (20 * 1024 * 1024)}
    r = await client.post(url, json=huge, headers=tenant.headers)
    assert r.status_code == 413 and "TERTULIA_MAX_JSON_BODY_BYTES" in r.json()["detail"]
    limit = runtime.settings.max_message_chars
    long = {"service_id": ready.service_id, "initial_message": "y" * (limit + 1)}
    r = await client.post(url, json=long, headers=tenant.headers)
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["type"] == "string_too_long" and error["loc"] == ["body", "initial_message"]
    assert error["ctx"]["max_length"] == limit and "y" * 50 not in r.text  # the text is not echoed back
    assert len(runtime.llm.requests) == calls
    listed = (await client.get(tenant.url("/conversation/"), headers=tenant.headers)).json()["conversations"]
    assert listed == []
    ok = {"service_id": ready.service_id, "initial_message": "z" * limit}  # exactly at the limit is fine
    r = await client.post(url, json=ok, headers=tenant.headers)
    assert r.status_code == 201 and events_of(r)[-1]["type"] == "interaction-complete"


async def test_interact_limits_answer_before_the_conversation_is_looked_up(client, tenant, runtime):
    """An unknown conversation id: every limit below answers its own status, not the 404 a lookup would give."""
    limit = runtime.settings.max_message_chars
    r = await interact(client, tenant, OBJECT_ID, "w" * (limit + 1))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "recorded_message", 0], r.text
    r = await interact(client, tenant, OBJECT_ID, "hi", externals=[("e" * (limit + 1), "2024-01-01T00:00:00Z")])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "external_event_message_content"]
    many = [("external_event_message_content", (None, "e"))] * (runtime.settings.max_multipart_parts + 1)
    url = tenant.url(f"/conversation/{OBJECT_ID}/interact?request_format=text&response_format=text")
    r = await client.post(url, files=many + [("recorded_message", ("m.txt", b"hi", "text/plain"))], headers=tenant.headers)
    assert r.status_code == 413 and "TERTULIA_MAX_MULTIPART_PARTS" in r.json()["detail"], r.text
    r = await client.post(url, content=b"--nope\r\ngarbage", headers={
        **tenant.headers, "content-type": "multipart/form-data; boundary=other"})
    assert r.status_code in (400, 422) and r.status_code != 500, r.text
    assert (await interact(client, tenant, OBJECT_ID, "v" * limit)).status_code == 404  # at the limit: looked up


async def test_an_oversized_audio_upload_answers_413(client, tenant, runtime):
    previous = runtime.settings.max_upload_bytes
    runtime.settings.max_upload_bytes = 64 * 1024
    try:
        url = tenant.url(f"/conversation/{OBJECT_ID}/interact?request_format=voice&response_format=text")
        files = [("initial_message_type", (None, "user-message")),
                 ("recorded_message", ("a.wav", b"\0" * (65 * 1024), "audio/wav"))]
        r = await client.post(url, files=files, headers=tenant.headers)
        assert r.status_code == 413 and "TERTULIA_MAX_UPLOAD_BYTES" in r.json()["detail"], r.text

        built = client.build_request("POST", url, files=files)
        content_type = built.headers["content-type"]

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while it streams
            async for chunk in built.stream:
                yield chunk

        r = await client.post(url, content=chunked(), headers={**tenant.headers, "content-type": content_type})
        assert r.status_code == 413 and "TERTULIA_MAX_UPLOAD_BYTES" in r.json()["detail"], r.text
    finally:
        runtime.settings.max_upload_bytes = previous
