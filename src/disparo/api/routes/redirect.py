"""`GET /r/{code}`: a tracked link. Records the click and sends the browser on (302) to the URL
the shot stored; anything else is a plain 404 page. No token: recipients follow it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from disparo.api.clicks import Redirects

router = APIRouter(tags=["tracking"])

# Not cached (every click counts) and no Referer to the destination (the code is personal).
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_NOT_FOUND = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><title>Link não encontrado</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>Link não encontrado</h1><p>Este link não existe ou não vale mais.</p>
<p lang="en">This link does not exist or is no longer valid.</p></body></html>
"""


@router.get("/r/{code}", include_in_schema=False)
async def follow(code: str, request: Request) -> Response:
    """The click's destination, or a 404 page."""
    redirects: Redirects | None = request.app.state.redirects
    url = await redirects.follow(code) if redirects is not None else None
    if url is None:
        return HTMLResponse(_NOT_FOUND, status_code=404, headers=_HEADERS)
    return RedirectResponse(url, status_code=302, headers=_HEADERS)
