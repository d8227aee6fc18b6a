"""Domain errors and their HTTP mapping. Error bodies are FastAPI-style ``{"detail": ...}``, which the SDK reads."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger("tertulia")


class ApiError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


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
    detail: object = exc.detail
    if exc.status_code == 422:  # documented as FastAPI's HTTPValidationError: a list of {loc, msg, type}
        detail = [{"type": "value_error", "loc": [], "msg": exc.detail}]
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

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
