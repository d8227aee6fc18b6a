"""Domain errors and their HTTP mapping. Error bodies are FastAPI-style ``{"detail": ...}``, which the SDK reads."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger("tertulia")


class ApiError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers

    def body(self) -> dict[str, Any]:
        if self.status_code == 422:  # documented as FastAPI's HTTPValidationError: a list of {loc, msg, type}
            return {"detail": [{"type": "value_error", "loc": [], "msg": self.detail}]}
        return {"detail": self.detail}


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class UnsupportedMedia(ApiError):
    status_code = 415


class Unprocessable(ApiError):
    status_code = 422


class TooManyRequests(ApiError):
    status_code = 429


class Unavailable(ApiError):
    status_code = 503


def error_response(exc: ApiError) -> JSONResponse:
    """The response an ``ApiError`` maps to. Returned (not raised) by a handler whose change must still commit
    (the request's unit of work commits a returned response and rolls back a raised error)."""
    return JSONResponse(wire_safe(exc.body()), status_code=exc.status_code, headers=exc.headers)


def wire_safe(value: Any) -> Any:
    """``value`` made encodable as strict UTF-8 JSON: non-finite floats become strings, lone surrogates and undecodable
    bytes are backslash-escaped, exceptions become their message. Used on validation errors, which echo the input."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {wire_safe(str(k)): wire_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [wire_safe(v) for v in value]
    if isinstance(value, BaseException):
        return wire_safe(str(value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    try:
        return wire_safe(jsonable_encoder(value))
    except Exception:  # noqa: BLE001  (an object the encoder does not know: its text is still readable)
        return wire_safe(str(value))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 body, but always encodable whatever the input held (NaN, surrogates, raw bytes)."""
        return JSONResponse({"detail": wire_safe(list(exc.errors()))}, status_code=422)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        """An integer beyond 64 bits reaching the database driver (SQLite raises this before any SQL runs)."""
        msg = "A number in the request is too large to store or compare (at most 64-bit integers)."
        return JSONResponse({"detail": [{"type": "value_error", "loc": [], "msg": msg}]}, status_code=422)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        sqlstate = str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")
        if sqlstate.startswith("22"):  # SQL "data exception": client input the database cannot hold (a NUL byte...)
            msg = "The request contains a value the database cannot store or compare (for example a NUL character)."
            return JSONResponse({"detail": [{"type": "value_error", "loc": [], "msg": msg}]}, status_code=422)
        # A lost or locked database is a temporary condition: tell the client to retry instead of a bare 500.
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "The database is temporarily unavailable; retry shortly."},
            status_code=503,
            headers={"Retry-After": "1"},
        )
