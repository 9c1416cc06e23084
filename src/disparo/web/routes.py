"""Serves the admin page at /admin and its assets at /admin/assets/, under a strict CSP.

Every asset is a file of `static/`, served by Starlette's `StaticFiles` (ETag and Last-Modified,
so a reload revalidates with a 304); nothing outside it is served, and no page or script is
generated from request data.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, FastAPI, HTTPException
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

ADMIN_PATH = "/admin"
ASSETS_PATH = f"{ADMIN_PATH}/assets"

# No inline script or style, nothing from another origin: user text can never run.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}


def static_root() -> Traversable:
    """The packaged `static/` folder (works from a wheel as well as from the source tree)."""
    return resources.files("disparo.web").joinpath("static")


# Revalidate on every load, so an upgrade never mixes old and new scripts.
_HEADERS = SECURITY_HEADERS | {"Cache-Control": "no-cache"}


class _Assets(StaticFiles):
    """The page's assets with the page's security headers; the page itself only at /admin."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path == "index.html":
            raise HTTPException(status_code=404, detail="no such asset")
        return await super().get_response(path, scope)

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(_HEADERS)
        return response


def build_router() -> APIRouter:
    """The route of the page itself, read once, here."""
    index = static_root().joinpath("index.html").read_bytes()
    router = APIRouter(include_in_schema=False)

    @router.get(ADMIN_PATH)
    @router.get(f"{ADMIN_PATH}/")
    async def admin_page() -> Response:
        return Response(index, media_type=MEDIA_TYPES[".html"], headers=_HEADERS)

    return router


def mount(app: FastAPI) -> None:
    """Serve the admin page from `app`."""
    app.include_router(build_router())
    app.mount(ASSETS_PATH, _Assets(packages=[("disparo.web", "static")]), name="admin-assets")
