"""The admin API's Bearer token check (constant-time), used by every /admin/api route.

It runs twice: as middleware, before a request's body is read (a caller without the token
learns nothing, not even how its body would be parsed), and as the routes' dependency, which
also declares the scheme in OpenAPI.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from disparo.api.errors import ApiError, error_response, single_query_values

ADMIN_PREFIX = "/admin/api"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="`Authorization: Bearer <DISPARO_ADMIN_TOKEN>`",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _refusal(given: str | None, expected: bytes) -> str | None:
    """Why a request with bearer credentials `given` is refused; None when it may pass."""
    if not given:
        return "send the admin token as 'Authorization: Bearer <DISPARO_ADMIN_TOKEN>'"
    if not hmac.compare_digest(given.encode(), expected):
        return "the admin token is wrong"
    return None


async def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse (401) a request without the admin token."""
    expected: bytes = request.app.state.admin_token
    problem = _refusal(credentials.credentials if credentials else None, expected)
    if problem is not None:
        raise ApiError(401, "unauthorized", problem, headers=_CHALLENGE)


# The dependencies of every admin router: the token, then one value per query parameter.
ADMIN = [Depends(require_admin), Depends(single_query_values)]


class AdminAuthMiddleware:
    """Answers 401 to an /admin/api request without the admin token, before the app runs."""

    def __init__(self, app: ASGIApp, *, token: bytes) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            scheme, credentials = get_authorization_scheme_param(
                Headers(scope=scope).get("authorization")
            )
            given = credentials if scheme.lower() == "bearer" else None
            problem = _refusal(given, self.token)
            if problem is not None:
                response = error_response(401, "unauthorized", problem, headers=_CHALLENGE)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
