"""``core.simple_form``: a plain multipart body gives exactly the form Starlette's parser gives; any other shape
is left to Starlette (None). And over HTTP, an interact sent in a shape the one-pass reader refuses still works."""

from __future__ import annotations

import httpx
import pytest
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser

from tertulia.core.simple_form import simple_form
from tests.support.conversation import make_service, start

LIMITS = {"max_files": 32, "max_fields": 32, "max_part_size": 1024}


def encoded(data: dict | None = None, files: dict | None = None) -> tuple[bytes, str]:
    """A body as httpx (the SDK's client) encodes it."""
    request = httpx.Request("POST", "http://x/", data=data, files=files)
    return request.read(), request.headers["content-type"]


async def starlette_form(body: bytes, content_type: str):  # noqa: ANN201
    async def stream():  # noqa: ANN202
        yield body

    return await MultiPartParser(Headers({"content-type": content_type}), stream(), **LIMITS).parse()


async def comparable(form) -> list:  # noqa: ANN001
    out = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            out.append((name, value.filename, value.size, list(value.headers.raw), await value.read()))
            await value.seek(0)
        else:
            out.append((name, value))
    return out


PLAIN = [
    encoded(files={"recorded_message": ("upload", b"Hello there")}),
    encoded(data={"initial_message_type": "external-event", "external_event_message_content": ["a", "b"],
                  "external_event_message_timestamp": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"]},
            files={"recorded_message": ("upload", "Ça va? ✓".encode())}),
    encoded(data={"recorded_message": "text as a field", "empty": ""}, files={"x": ("n", b"")}),
    encoded(files={"recorded_message": ("voice.wav", b"RIFF\x00\x01\r\n\r\n--not-a-delimiter", "audio/wav")}),
    encoded(data={"latin": "x"}, files={"f": ("n", b"\xff\xfe bytes")}),
]


@pytest.mark.parametrize("body,content_type", PLAIN)
async def test_a_plain_body_reads_as_starlette_reads_it(body: bytes, content_type: str) -> None:
    ours = simple_form(body, content_type, **LIMITS)
    assert ours is not None
    assert await comparable(ours) == await comparable(await starlette_form(body, content_type))


def _hand(parts: list[bytes], boundary: str = "b0undary", tail: bytes = b"--\r\n") -> tuple[bytes, str]:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    return body + b"--" + boundary.encode() + tail, f"multipart/form-data; boundary={boundary}"


FIELD = b'Content-Disposition: form-data; name="recorded_message"\r\n\r\nhi'
OTHER = [
    (*_hand([FIELD]), "charset parameter", "; charset=latin-1"),
    (*_hand([b'Content-Disposition:  form-data; name="m"\r\n\r\nhi']), "two spaces after the colon", ""),
    (*_hand([b'Content-Disposition: form-data; name="m"; filename*=utf-8\'\'x\r\n\r\nhi']), "extended filename", ""),
    (*_hand([b'Content-Disposition: attachment; name="m"\r\n\r\nhi']), "not form-data", ""),
    (*_hand([b'Content-Type: text/plain\r\n\r\nhi']), "no disposition", ""),
    (*_hand([FIELD], tail=b"--\r\nepilogue"), "an epilogue", ""),
    (*_hand([FIELD + b"\r\n--b0undaryX"]), "a delimiter-like line inside", ""),
    (*_hand([b'Content-Disposition: form-data; name="m"\r\n\r\n' + b"x" * 1024]), "a field at the size limit", ""),
    (*_hand([FIELD] * 32), "as many fields as the limit", ""),
    (b"preamble\r\n" + _hand([FIELD])[0], _hand([FIELD])[1], "a preamble", ""),
    (*_hand([FIELD], boundary='"quoted"'), "a quoted boundary", ""),
]


@pytest.mark.parametrize("body,content_type,why,suffix", OTHER, ids=[o[2] for o in OTHER])
def test_any_other_shape_is_left_to_starlette(body: bytes, content_type: str, why: str, suffix: str) -> None:
    assert simple_form(body, content_type + suffix, **LIMITS) is None, why


async def test_an_interact_in_a_shape_left_to_starlette_still_runs(client, tenant) -> None:  # noqa: ANN001
    svc = await make_service(client, tenant)
    conversation_id, _ = await start(client, tenant, svc.service_id)
    body, content_type = _hand([b'Content-Disposition: form-data; name="recorded_message"\r\n\r\nHello there'])
    content_type += "; charset=utf-8"
    assert simple_form(body, content_type, **LIMITS) is None
    r = await client.post(tenant.url(f"/conversation/{conversation_id}/interact"),
                          params={"request_format": "text", "response_format": "text"},
                          content=body, headers={**tenant.headers, "content-type": content_type})
    assert r.status_code == 200 and "interaction-complete" in r.text, r.text[-300:]
