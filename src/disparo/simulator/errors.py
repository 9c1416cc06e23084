"""Telegram-shaped answers: the `ok` envelope and the error bodies, byte for byte."""

from __future__ import annotations

from typing import Any

import orjson


class ApiError(Exception):
    """The Bot API refused the request (an `ok: false` answer with a code and a description)."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> bytes:
        """The JSON body Telegram sends for this error."""
        return error_body(self.code, self.description, self.retry_after)


def bad_request(detail: str) -> ApiError:
    """A 400 answer: `Bad Request: <detail>`."""
    return ApiError(400, "Bad Request: " + detail)


def forbidden(detail: str) -> ApiError:
    """A 403 answer: `Forbidden: <detail>`."""
    return ApiError(403, "Forbidden: " + detail)


def conflict(detail: str) -> ApiError:
    """A 409 answer: `Conflict: <detail>`."""
    return ApiError(409, "Conflict: " + detail)


def too_many_requests(retry_after: int) -> ApiError:
    """A 429 answer with `parameters.retry_after`, never less than one second."""
    seconds = max(1, retry_after)
    return ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)


def unauthorized() -> ApiError:
    """The 401 Telegram gives for a token it does not know."""
    return ApiError(401, "Unauthorized")


def not_found() -> ApiError:
    """The 404 Telegram gives for a method it does not know."""
    return ApiError(404, "Not Found")


def ok_body(result: Any, description: str | None = None) -> bytes:
    """`{"ok":true,"result":...}`, with Telegram's optional description."""
    if description is None:
        return orjson.dumps({"ok": True, "result": result})
    return orjson.dumps({"ok": True, "result": result, "description": description})


def error_body(code: int, description: str, retry_after: int | None = None) -> bytes:
    """`{"ok":false,"error_code":N,"description":"..."}` plus `parameters` for a 429."""
    if retry_after is None:
        return orjson.dumps({"ok": False, "error_code": code, "description": description})
    return orjson.dumps(
        {
            "ok": False,
            "error_code": code,
            "description": description,
            "parameters": {"retry_after": retry_after},
        }
    )
