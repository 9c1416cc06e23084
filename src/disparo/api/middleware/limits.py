"""Request body limits: 1 MiB for JSON routes, 64 MiB for the bulk imports and import jobs, and
no pause longer than DISPARO_HTTP_READ_TIMEOUT_S while a body arrives.

A declared Content-Length above the limit is refused before the app runs; a chunked body is
counted as it is read and refused once it passes the limit. Both answer 413 in the one JSON
error shape (Starlette's own limiter answers plain text). A body that stops arriving is a 408,
and the connection is closed.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from disparo.api.errors import error_response

MAX_BODY_BYTES = 1024 * 1024
MAX_IMPORT_BYTES = 64 * 1024 * 1024
IMPORT_SUFFIX = ":import"
IMPORT_JOBS_SUFFIX = "/imports"  # POST .../imports: an import job's file


def body_limit(path: str) -> int:
    """The largest body the route at `path` accepts, in bytes."""
    if path.endswith((IMPORT_SUFFIX, IMPORT_JOBS_SUFFIX)):
        return MAX_IMPORT_BYTES
    return MAX_BODY_BYTES


def _too_large(limit: int) -> str:
    return (
        f"the request body is larger than this route accepts ({limit // 1024} KiB); "
        "send less per request"
    )


class BodyTooLarge(HTTPException):
    """The request body passed the route's limit while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large(limit))


class BodyTimedOut(HTTPException):
    """The client paused longer than allowed while sending the request body."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            status_code=408,
            detail=f"the request body stopped arriving for {timeout_s:g} s "
            "(DISPARO_HTTP_READ_TIMEOUT_S); send it without pausing",
            headers={"Connection": "close"},
        )


class BodyLimitMiddleware:
    """Refuses request bodies above the route's limit with a JSON 413, and bodies that stop
    arriving for `read_timeout_s` with a 408."""

    def __init__(self, app: ASGIApp, *, read_timeout_s: float = 10.0) -> None:
        self.app = app
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = error_response(413, "payload_too_large", _too_large(limit))
            await response(scope, receive, send)
            return
        received = 0
        complete = False

        async def counted() -> Message:
            nonlocal received, complete
            if complete:  # waiting for a disconnect (a streamed answer does): no deadline
                return await receive()
            try:
                async with asyncio.timeout(self.read_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise BodyTimedOut(self.read_timeout_s) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
