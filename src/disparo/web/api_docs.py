"""Swagger UI at /docs, only when DISPARO_API_DOCS is on: served from the files of the
`fastapi-offline` package, under the admin page's CSP; nothing is loaded from another origin.

ReDoc is not served: its styles are injected inline, which that CSP forbids.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import Response

from disparo.web.routes import MEDIA_TYPES, SECURITY_HEADERS

DOCS_PATH = "/docs"
DOCS_ASSETS_PATH = f"{DOCS_PATH}/assets"
PACKAGE_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")

# Fixed text, no inline script or style: the page passes the CSP unchanged.
PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Disparo API</title>
<link rel="icon" href="{DOCS_ASSETS_PATH}/favicon.png">
<link rel="stylesheet" href="{DOCS_ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{DOCS_ASSETS_PATH}/start.js"></script>
</body>
</html>
"""
# validatorUrl null: Swagger UI would otherwise send the schema to validator.swagger.io.
START = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""


def _package_files() -> dict[str, bytes]:
    folder = resources.files("fastapi_offline").joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in PACKAGE_FILES}


def build_router() -> APIRouter:
    """The routes of the docs page; its files are read once, here."""
    assets = _package_files() | {"start.js": START.encode()}
    router = APIRouter(include_in_schema=False)
    headers = SECURITY_HEADERS | {"Cache-Control": "no-cache"}

    @router.get(DOCS_PATH)
    async def docs_page() -> Response:
        return Response(PAGE, media_type=MEDIA_TYPES[".html"], headers=headers)

    @router.get(f"{DOCS_ASSETS_PATH}/{{name}}")
    async def docs_asset(name: str) -> Response:
        body = assets.get(name)
        if body is None:
            raise HTTPException(status_code=404, detail="no such asset")
        media_type = MEDIA_TYPES["." + name.rsplit(".", 1)[-1]]
        return Response(body, media_type=media_type, headers=headers)

    return router


def mount(app: FastAPI) -> None:
    """Serve Swagger UI from `app` at /docs."""
    app.include_router(build_router())
