"""Limits on what a user sends, checked by a router-level dependency before authentication or any database work.

* The text of a user message (``initial_message`` of create-conversation; the text ``recorded_message`` and the
  external event contents of interact-with-conversation) longer than ``max_message_chars`` characters answers
  **422** ``string_too_long`` at the field's location, as a ``maxLength`` in the schema would.
* A multipart body with more than ``max_multipart_parts`` parts (fields and files together) answers **413**; a
  multipart body that cannot be parsed answers 422. Each text field may be as large as the upload cap allows (the
  body as a whole is capped by ``core.body_guard``), so an over-long text field meets the 422 above, not a 413.

The form is parsed here with these limits (a plain small body by ``core.simple_form`` in one pass, anything else by
Starlette's parser); Starlette caches it, so the route's own ``request.form()`` reuses it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from tertulia.core.body_guard import DEFAULT_UPLOAD_BYTES, BodyTooLarge, is_json_type
from tertulia.core.errors import ApiError
from tertulia.core.simple_form import simple_form

DEFAULT_MESSAGE_CHARS = 20_000
DEFAULT_PARTS = 32

# operationId -> JSON body fields holding a user's message text
JSON_MESSAGE_FIELDS: dict[str, tuple[str, ...]] = {"create-conversation": ("initial_message",)}
# operationId -> multipart fields holding message text; ``recorded_message`` only when ``request_format=text``
FORM_MESSAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "interact-with-conversation": ("recorded_message", "external_event_message_content"),
}


class FieldTooLong(ApiError):
    status_code = 422

    def __init__(self, loc: list[Any], limit: int) -> None:
        super().__init__(f"String should have at most {limit} characters (TERTULIA_MAX_MESSAGE_CHARS).")
        self.loc, self.limit = loc, limit

    def body(self) -> dict[str, Any]:
        return {"detail": [{"type": "string_too_long", "loc": self.loc, "msg": self.detail,
                            "ctx": {"max_length": self.limit}}]}


class MalformedForm(ApiError):
    status_code = 422

    def body(self) -> dict[str, Any]:
        return {"detail": [{"type": "multipart_invalid", "loc": ["body"], "msg": self.detail}]}


def _settings(request: Request) -> Any:
    return getattr(getattr(request.app.state, "runtime", None), "settings", None)


async def message_limits(request: Request) -> None:
    """Router-level dependency (see the module docstring)."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    settings = _settings(request)
    max_chars = int(getattr(settings, "max_message_chars", DEFAULT_MESSAGE_CHARS))
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    operation_id = getattr(request.scope.get("route"), "operation_id", None)
    if content_type == "multipart/form-data":
        form = await _parse_form(request, settings)
        fields = FORM_MESSAGE_FIELDS.get(operation_id or "", ())
        for name in fields:
            if name == "recorded_message" and request.query_params.get("request_format") != "text":
                continue
            for i, value in enumerate(form.getlist(name)):
                if await _text_length(value, max_chars) > max_chars:
                    raise FieldTooLong(["body", name, i], max_chars)
    elif is_json_type(content_type) and operation_id in JSON_MESSAGE_FIELDS:
        body = await request.json()  # strict-checked by BodyGuard; cached for the route
        if isinstance(body, dict):
            for name in JSON_MESSAGE_FIELDS[operation_id]:
                value = body.get(name)
                if isinstance(value, str) and len(value) > max_chars:
                    raise FieldTooLong(["body", name], max_chars)


async def _parse_form(request: Request, settings: Any):
    parts = int(getattr(settings, "max_multipart_parts", DEFAULT_PARTS))
    cap = int(getattr(settings, "max_upload_bytes", DEFAULT_UPLOAD_BYTES))
    form = simple_form(await request.body(), request.headers.get("content-type", ""), max_files=parts,
                       max_fields=parts, max_part_size=cap)
    if form is not None:
        request._form = form  # Starlette's cache of the parsed form: the route's request.form() returns it
    else:
        try:
            form = await request.form(max_files=parts, max_fields=parts, max_part_size=cap)
        except HTTPException as exc:  # Starlette's MultiPartException, surfaced as a 400
            text = str(exc.detail)
            if text.startswith("Too many"):
                raise BodyTooLarge(f"The multipart body has more than {parts} parts (TERTULIA_MAX_MULTIPART_PARTS).") from exc
            if "maximum size" in text:
                raise BodyTooLarge(f"A multipart field is larger than {cap} bytes (TERTULIA_MAX_UPLOAD_BYTES).") from exc
            raise MalformedForm(f"The multipart body cannot be parsed: {text}") from exc
    if len(form.multi_items()) > parts:
        raise BodyTooLarge(f"The multipart body has more than {parts} parts (TERTULIA_MAX_MULTIPART_PARTS).")
    return form


async def _text_length(value: str | UploadFile, max_chars: int) -> int:
    if isinstance(value, str):
        return len(value)
    size = value.size if value.size is not None else None
    if size is not None and size > 4 * max_chars:  # more bytes than any max_chars UTF-8 characters can take
        return size
    raw = await value.read()
    await value.seek(0)
    return len(raw.decode("utf-8", "replace"))
