"""One JSON shape for every error: `{"error": {"code", "message", "field"?}}`.

Routes raise `ApiError`; the handlers here turn it, FastAPI's validation errors, Starlette's
404/405/413 and a database outage into that shape. Nothing an operator sends yields a 500.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from disparo.db.errors import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PoolTimeoutError,
)
from disparo.db.secrets import SecretKeyError

log = logging.getLogger("disparo.api")

ErrorCode = Literal[
    "validation_error",
    "not_found",
    "conflict",
    "unauthorized",
    "forbidden",
    "payload_too_large",
    "request_timeout",
    "unavailable",
    "bad_request",
    "method_not_allowed",
    "telegram_error",
    "internal_error",
]


class ErrorDetail(BaseModel):
    """What went wrong, and where."""

    code: ErrorCode = Field(description="a stable machine-readable code")
    message: str = Field(description="what is wrong and how to fix it")
    field: str | None = Field(
        default=None, description="the offending field (dotted path for nested ones)"
    )


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail = Field(description="the one error of the request")


class ApiError(Exception):
    """A request the API refuses; `code` and `status` say how."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers


def not_found(what: str) -> ApiError:
    """404 naming what does not exist."""
    return ApiError(404, "not_found", f"{what} does not exist")


def invalid(field: str, message: str) -> ApiError:
    """422 for one field."""
    return ApiError(422, "validation_error", message, field=field)


def single_query_values(request: Request) -> None:
    """Refuse (422) a query parameter given more than once: every one the API declares takes a
    single value, and silently keeping one of several would hide the caller's mistake."""
    seen: dict[str, int] = {}
    for name, _value in request.query_params.multi_items():
        seen[name] = seen.get(name, 0) + 1
    for name, count in seen.items():
        if count > 1:
            raise invalid(name, f"'{name}' is given {count} times; give it once")


def conflict(message: str, *, field: str | None = None) -> ApiError:
    """409: the request contradicts the current state."""
    return ApiError(409, "conflict", message, field=field)


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON answer of an error."""
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


_HTTP_CODES: dict[int, tuple[ErrorCode, str]] = {
    400: ("bad_request", "the request is malformed"),
    401: ("unauthorized", "send Authorization: Bearer <DISPARO_ADMIN_TOKEN>"),
    403: ("forbidden", "this request is not allowed"),
    404: ("not_found", "no route matches this path; see /openapi.json for the API"),
    405: ("method_not_allowed", "this path does not accept this method"),
    408: ("request_timeout", "the request body stopped arriving"),
    413: ("payload_too_large", "the request body is too large"),
}


def _field(loc: tuple[int | str, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def _validation_message(error: dict[str, Any], field: str | None) -> str:
    name = field or "the body"
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "missing":
        return f"{name} is required"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{name} must be one of: {expected}"
    if kind == "timezone_aware":
        return (
            f"{name} has no UTC offset; a local time is ambiguous, so give an ISO 8601 time "
            "with an offset, such as 2026-12-01T09:00:00-03:00 or 2026-12-01T12:00:00Z"
        )
    if kind.startswith("datetime"):
        return (
            f"{name} must be an ISO 8601 date and time with an offset, "
            "such as 2026-12-01T09:00:00-03:00"
        )
    if kind == "extra_forbidden":
        return f"{name} is not a field of this request; see /openapi.json for the accepted fields"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{name} must be an integer"
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return f"{name} must be a JSON object"
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    if message.startswith("Input should be "):
        return f"{name} should be {message.removeprefix('Input should be ')}"
    return f"{name}: {message}"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "invalid JSON")
        position = first.get("loc", ("body", 0))[-1]
        return error_response(
            400, "bad_request", f"the body is not valid JSON: {reason} at position {position}"
        )
    field = _field(tuple(first.get("loc", ())))
    return error_response(422, "validation_error", _validation_message(first, field), field=field)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        route = context.original_route
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


# FastAPI's words for a body it cannot decode at all (say, bytes that are not UTF-8).
_UNREADABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code, default = _HTTP_CODES.get(exc.status_code, ("bad_request", "the request is invalid"))
    message = default
    if isinstance(exc.detail, str) and exc.status_code not in (404, 405):
        message = exc.detail
    if exc.status_code == 400 and message == _UNREADABLE_BODY:
        message = "the body cannot be read as JSON; send UTF-8 encoded JSON"
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        message = f"this path accepts {', '.join(allowed)}"
    return error_response(exc.status_code, code, message, headers=headers)


async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return error_response(
        503,
        "unavailable",
        "the database cannot be reached or is busy; try again in a few seconds",
        headers={"Retry-After": "5"},
    )


async def _unstorable(_request: Request, exc: Exception) -> JSONResponse:
    log.info("value refused by the database: %s", type(exc).__name__)
    return error_response(
        422,
        "validation_error",
        "a value cannot be stored (a NUL character, or a number or time out of range); "
        "remove it and try again",
    )


async def _integrity(_request: Request, exc: Exception) -> JSONResponse:
    log.info("constraint refused a change: %s", type(exc).__name__)
    return error_response(
        409,
        "conflict",
        "the change conflicts with the current data (it may have changed meanwhile)",
    )


async def _secret_key(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, "unavailable", str(exc))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error happened; see the logs")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of `app` in the one JSON shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for outage in (OperationalError, InterfaceError, PoolTimeoutError, ConnectionError):
        app.add_exception_handler(outage, _database_down)
    app.add_exception_handler(TimeoutError, _database_down)
    app.add_exception_handler(DataError, _unstorable)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(SecretKeyError, _secret_key)
    app.add_exception_handler(Exception, _unexpected)


Responses = dict[int | str, dict[str, Any]]


def described(status: int, description: str) -> Responses:
    """The OpenAPI entry of an error answer of a route."""
    return {status: {"model": ErrorBody, "description": description}}


ERROR_RESPONSES: Responses = (
    described(401, "missing or wrong admin token")
    | described(422, "a field is invalid; `field` names it and the message says what it accepts")
    | described(503, "the database cannot be reached")
)

# The answers of a route that reads a JSON body, beyond ERROR_RESPONSES.
BODY_ERRORS: Responses = described(400, "the body is not valid JSON, or not UTF-8") | described(
    413, "the body is above 1 MiB"
)
