"""Request bodies are checked before any route runs: size caps (413) and strict JSON (422).

``BodyGuard`` is an ASGI middleware, so it covers every route whatever router declared it:

* a body larger than its cap answers **413** before the app sees it: ``Content-Length`` is checked up front, and
  a chunked body is counted as it streams. JSON (and every other non-multipart body) is capped by
  ``max_json_body_bytes``; ``multipart/form-data`` (audio uploads) by ``max_upload_bytes``.
* a JSON body (``application/json`` or ``application/*+json``) must be strict JSON (RFC 8259) in UTF-8: invalid
  UTF-8, a syntax error, ``NaN``/``Infinity`` (or a number too large for a double), an integer too long to parse,
  nesting deeper than ``MAX_DEPTH`` or a string holding a lone surrogate escape (``"\\ud800"``, not a character)
  answers **422** in FastAPI's ``HTTPValidationError`` shape, with the location of the offending value when known.
  Every operation of the Classic Amigo API documents 422 for its body and none documents 400 for a malformed one,
  so 422 is the answer everywhere.

The body is read once and replayed to the app unchanged. Limits come from ``runtime.settings`` at request time.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tertulia.core.errors import ApiError

MAX_DEPTH = 64
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_JSON_BYTES = 1024 * 1024
DEFAULT_UPLOAD_BYTES = 25 * 1024 * 1024


class BodyTooLarge(ApiError):
    status_code = 413


class InvalidJson(ValueError):
    def __init__(self, msg: str, loc: list[Any], kind: str = "json_invalid") -> None:
        super().__init__(msg)
        self.msg, self.loc, self.kind = msg, loc, kind


def _content_type(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def is_json_type(content_type: str) -> bool:
    main, _, sub = content_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def body_cap(scope: Scope, content_type: str) -> tuple[int, str]:
    """The byte cap for this request's body and the setting that sets it."""
    settings = getattr(getattr(getattr(scope.get("app"), "state", None), "runtime", None), "settings", None)
    if content_type == "multipart/form-data":
        return int(getattr(settings, "max_upload_bytes", DEFAULT_UPLOAD_BYTES)), "TERTULIA_MAX_UPLOAD_BYTES"
    return int(getattr(settings, "max_json_body_bytes", DEFAULT_JSON_BYTES)), "TERTULIA_MAX_JSON_BODY_BYTES"


def too_large(cap: int, setting: str) -> BodyTooLarge:
    return BodyTooLarge(f"The request body is larger than this server's limit of {cap} bytes ({setting}).")


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number: JSON has no NaN or Infinity.", ["body"])


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"The number {text[:40]} is too large to represent.", ["body"])
    return value


def _check_strings(value: Any) -> None:
    """Walk the parsed document (iteratively): every key and string must be valid Unicode; nesting is bounded."""
    stack: list[tuple[Any, list[Any]]] = [(value, ["body"])]
    while stack:
        node, loc = stack.pop()
        if len(loc) > MAX_DEPTH:
            raise InvalidJson(f"The JSON document is nested deeper than {MAX_DEPTH} levels.", loc[:3] + ["..."])
        if isinstance(node, str):
            _check_text(node, loc)
        elif isinstance(node, dict):
            for key, item in node.items():
                _check_text(key, loc)
                stack.append((item, loc + [key]))
        elif isinstance(node, list):
            stack.extend((item, loc + [i]) for i, item in enumerate(node))


def _check_text(text: str, loc: list[Any]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        safe_loc = [part.encode("utf-8", "backslashreplace").decode() if isinstance(part, str) else part for part in loc]
        raise InvalidJson(
            f"Strings must be valid Unicode: a lone surrogate escape (\\u{ord(text[exc.start]):04x}) is not a character.",
            safe_loc, kind="string_unicode",
        ) from None


def parse_strict_json(body: bytes) -> Any:
    """Parse ``body`` as strict JSON or raise ``InvalidJson`` with a readable message and location."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"The body is not valid UTF-8 (byte {exc.start}); JSON must be UTF-8 encoded.", ["body"]) from None
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except InvalidJson:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"JSON decode error: {exc.msg} (line {exc.lineno}, column {exc.colno}).", ["body", exc.pos]) from None
    except RecursionError:
        raise InvalidJson(f"The JSON document is nested deeper than {MAX_DEPTH} levels.", ["body"]) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python parses
        raise InvalidJson(f"The JSON document holds an unparsable value: {str(exc)[:120]}", ["body"]) from None
    _check_strings(value)
    return value


def invalid_json_response(exc: InvalidJson) -> JSONResponse:
    return JSONResponse({"detail": [{"type": exc.kind, "loc": exc.loc, "msg": exc.msg}]}, status_code=422)


class BodyGuard:
    """ASGI middleware enforcing the caps and strict JSON described in the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = _content_type(scope)
        cap, setting = body_cap(scope, content_type)
        declared = _declared_length(scope)
        if declared is not None and declared > cap:
            await _error(too_large(cap, setting), scope, receive, send)
            return
        if is_json_type(content_type):
            await self._json(scope, receive, send, cap, setting)
        else:
            await self.app(scope, _counting(receive, cap, setting), send)

    async def _json(self, scope: Scope, receive: Receive, send: Send, cap: int, setting: str) -> None:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away before sending its body
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _error(too_large(cap, setting), scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:
                parse_strict_json(body)
            except InvalidJson as exc:
                await invalid_json_response(exc)(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the client's disconnect, as the server would

    return replay


def _counting(receive: Receive, cap: int, setting: str) -> Receive:
    """A receive that raises 413 once more than ``cap`` body bytes arrived (chunked bodies, uploads)."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > cap:
                raise too_large(cap, setting)
        return message

    return counted


async def _error(exc: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers={"Connection": "close"})(
        scope, receive, send
    )
