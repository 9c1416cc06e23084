"""What the server shows to anyone who connects: API docs only on demand and from its own
files, /metrics behind DISPARO_METRICS_TOKEN when set, and no redirect built from Host."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import pytest
from api_support import ADMIN_TOKEN, BuildApp, Client, Serve
from pydantic import SecretStr

from disparo.config import ConfigError, Settings, load_settings
from disparo.web.routes import CONTENT_SECURITY_POLICY

METRICS_TOKEN = "metrics-T0ken-for-the-tests-5d1c"


async def test_api_docs_are_off_by_default(api: Client) -> None:
    """No /docs, /redoc or their OAuth page unless asked for; the OpenAPI document stays."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/docs/assets/swagger-ui.css"):
        answer = await api.get(path, token=None)
        assert answer.status == 404, path
    assert (await api.get("/openapi.json", token=None)).status == 200


async def test_api_docs_on_demand_come_from_this_server_under_the_csp(
    build_app: BuildApp, serve: Serve, settings: Settings
) -> None:
    """With DISPARO_API_DOCS the page and every file it loads are served here, with the admin
    page's CSP; nothing points to another origin, and ReDoc stays off."""
    api = await serve(build_app(settings=settings.model_copy(update={"api_docs": True})))
    page = await api.get("/docs", token=None)
    assert page.status == 200
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["Content-Type"].startswith("text/html")
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(loaded) == 4, loaded
    assert "<style" not in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None
    for path in loaded:
        assert path.startswith("/docs/assets/"), path
        async with api.session.get(api.base_url + path) as asset:
            assert asset.status == 200, path
            assert asset.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert len(await asset.read()) > 100, path
    start = await api.get("/docs/assets/start.js", token=None)
    assert '"/openapi.json"' in start.text
    assert "validatorUrl: null" in start.text
    assert (await api.get("/docs/assets/../routes.py", token=None)).status == 404
    assert (await api.get("/redoc", token=None)).status == 404


async def test_metrics_are_open_without_a_metrics_token(api: Client) -> None:
    """Without DISPARO_METRICS_TOKEN, /metrics answers anyone (the documented default)."""
    answer = await api.get("/metrics", token=None)
    assert answer.status == 200
    assert "disparo_http_requests_total" in answer.text


async def test_metrics_token_guards_metrics(
    build_app: BuildApp, serve: Serve, settings: Settings
) -> None:
    """With DISPARO_METRICS_TOKEN, /metrics needs it as a bearer token: none, a wrong one or the
    admin token get a 401 in the error shape; the token itself is never echoed."""
    guarded = settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    api = await serve(build_app(settings=guarded))
    refusals = [
        await api.get("/metrics", token=None),
        await api.get("/metrics", token=METRICS_TOKEN[:-1]),
        await api.get("/metrics", token=ADMIN_TOKEN),
        await api.get("/metrics", token=None, headers={"Authorization": METRICS_TOKEN}),
    ]
    for refused in refusals:
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert refused.body["error"]["code"] == "unauthorized"
        assert "DISPARO_METRICS_TOKEN" in refused.body["error"]["message"]
        assert "disparo_http_requests" not in refused.text
    granted = await api.get("/metrics", token=METRICS_TOKEN)
    assert granted.status == 200
    assert "disparo_http_requests_total" in granted.text
    for answer in [*refusals, granted]:
        assert METRICS_TOKEN not in answer.text + str(answer.headers)
    assert (await api.get("/healthz", token=None)).status == 200


def test_a_short_metrics_token_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A metrics token under 16 characters stops the start, naming the variable, not the value."""
    monkeypatch.setenv("DISPARO_METRICS_TOKEN", "short-secret")
    with pytest.raises(ConfigError, match="DISPARO_METRICS_TOKEN") as refused:
        load_settings(env_file=None)
    assert "short-secret" not in str(refused.value)
    monkeypatch.setenv("DISPARO_METRICS_TOKEN", "")
    assert load_settings(env_file=None).metrics_token is None


async def raw_answer(base_url: str, request: bytes) -> tuple[int, dict[str, str]]:
    """Send a raw HTTP/1.1 request; the status and headers of the answer."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), family=socket.AF_INET)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, Any] = {}
    for line in filter(None, lines):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


@pytest.mark.parametrize(
    "path",
    ["/healthz/", "/metrics/", "/openapi.json/", "/admin/api/bots/", "/telegram/loja/webhook/"],
)
async def test_no_redirect_is_built_from_a_hostile_host_header(api: Client, path: str) -> None:
    """A trailing slash is not redirected: whatever the Host header, no Location points at it."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: evil.example\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, headers = await raw_answer(api.base_url, request)
    assert "location" not in headers, (path, status, headers)
    assert status in (404, 405), (path, status)
