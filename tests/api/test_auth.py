"""Every /admin/api route refuses a missing or wrong Bearer token; the others need none."""

from __future__ import annotations

import re
from typing import Any

from api_support import ADMIN_TOKEN, BuildApp, Client, Serve
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

SAMPLE_PATH_VALUES = {"shot_id": "1", "slug": "loja"}


def registered(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, included routers flattened."""
    return sorted(
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if context.path is not None
        for method in sorted(context.methods or ())
    )


def concrete(path: str) -> str:
    """The route template with sample values in place of its parameters."""
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: SAMPLE_PATH_VALUES.get(m.group(1), "x"), path)


async def test_every_admin_route_refuses_missing_and_wrong_tokens(
    build_app: BuildApp, serve: Serve
) -> None:
    """Walks every route the app registers: 401 with WWW-Authenticate for each /admin/api one."""
    app = build_app()
    api = await serve(app)
    admin_routes = [(m, path) for m, path in registered(app) if path.startswith("/admin/api")]
    assert len(admin_routes) >= 23
    assert ("POST", "/admin/api/bots/{slug}/contacts:import") in admin_routes
    wrong_tokens: list[str | None] = [None, "wrong-token", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1], ""]
    for method, path in admin_routes:
        for token in wrong_tokens:
            answer = await api.request(method, concrete(path), token=token, json={})
            assert answer.status == 401, (method, path, token, answer.body)
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            assert answer.body["error"]["code"] == "unauthorized"
        basic = await api.request(
            method, concrete(path), token=None, headers={"Authorization": "Basic YWRtaW46eA=="}
        )
        assert basic.status == 401


async def test_the_admin_token_opens_the_routes(api: Client) -> None:
    """With the right token the answer is the route's own, not a 401."""
    answer = await api.get("/admin/api/bots")
    assert (answer.status, answer.body) == (200, {"items": []})


async def test_public_routes_need_no_token(build_app: BuildApp, serve: Serve) -> None:
    """Health, metrics, the OpenAPI document and the webhook (which has its own secret) are not
    behind the token."""
    app = build_app()
    api = await serve(app)
    public = {path for _, path in registered(app) if not path.startswith("/admin/api")}
    assert {"/healthz", "/readyz", "/metrics", "/openapi.json"} <= public
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        answer: Any = await api.get(path, token=None)
        assert answer.status == 200, path


async def test_the_token_is_checked_before_the_body_is_read(api: Client) -> None:
    """Without the token a malformed body is a 401 too (not a 400 that parsed it); with the
    token, a body that is not UTF-8 is a 400 that says so."""
    json_type = {"Content-Type": "application/json"}
    for body in (b"{", b"\xff\xfe", b'{"copy": "a\x00"}'):
        answer = await api.request(
            "POST", "/admin/api/shots", data=body, token=None, headers=json_type
        )
        assert answer.status == 401, (body, answer.body)
        assert answer.body["error"]["code"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    unreadable = await api.request("POST", "/admin/api/shots", data=b"\xff", headers=json_type)
    assert unreadable.status == 400
    assert unreadable.body["error"] == {
        "code": "bad_request",
        "message": "the body cannot be read as JSON; send UTF-8 encoded JSON",
    }
