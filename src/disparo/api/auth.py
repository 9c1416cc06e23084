"""The admin API's Bearer token check (constant-time), used by every /admin/api route."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from disparo.api.errors import ApiError

ADMIN_PREFIX = "/admin/api"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="`Authorization: Bearer <DISPARO_ADMIN_TOKEN>`",
)


def _refuse(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse (401) a request without the admin token."""
    if credentials is None:
        raise _refuse("send the admin token as 'Authorization: Bearer <DISPARO_ADMIN_TOKEN>'")
    expected: bytes = request.app.state.admin_token
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise _refuse("the admin token is wrong")


# The dependencies of every admin router.
ADMIN = [Depends(require_admin)]
