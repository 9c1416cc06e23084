"""Serves the admin page at /admin and its assets at /admin/assets/, under a strict CSP.

Every asset is a file of `static/`, listed once when the router is built; nothing else is
served, and no page or script is generated from request data.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import Response

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
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}


def static_root() -> Traversable:
    """The packaged `static/` folder (works from a wheel as well as from the source tree)."""
    return resources.files("disparo.web").joinpath("static")


def _list_assets(folder: Traversable, prefix: str = "") -> dict[str, Traversable]:
    assets: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            assets.update(_list_assets(entry, f"{name}/"))
        elif "." + name.rsplit(".", 1)[-1] in MEDIA_TYPES:
            assets[name] = entry
    return assets


def _media_type(name: str) -> str:
    return MEDIA_TYPES["." + name.rsplit(".", 1)[-1]]


def build_router() -> APIRouter:
    """The routes of the admin page; the assets are read once, here."""
    assets = {name: entry.read_bytes() for name, entry in _list_assets(static_root()).items()}
    index = assets["index.html"]
    router = APIRouter(include_in_schema=False)
    # Revalidate on every load, so an upgrade never mixes old and new scripts.
    cache = {"Cache-Control": "no-cache"}

    @router.get(ADMIN_PATH)
    @router.get(f"{ADMIN_PATH}/")
    async def admin_page() -> Response:
        return Response(index, media_type=MEDIA_TYPES[".html"], headers=SECURITY_HEADERS | cache)

    @router.get(f"{ASSETS_PATH}/{{name:path}}")
    async def admin_asset(name: str) -> Response:
        body = assets.get(name)
        if body is None or name == "index.html":
            raise HTTPException(status_code=404, detail="no such asset")
        return Response(body, media_type=_media_type(name), headers=SECURITY_HEADERS | cache)

    return router


def mount(app: FastAPI) -> None:
    """Serve the admin page from `app`."""
    app.include_router(build_router())
