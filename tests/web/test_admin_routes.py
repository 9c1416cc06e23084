"""The admin page's routes: what is served, under which headers, and what the assets never do."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import uvicorn
from fastapi import FastAPI

from disparo.web.routes import CONTENT_SECURITY_POLICY, mount, static_root

STATIC = Path(str(static_root()))
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    """A bare app with only the admin page mounted, served on a real socket."""
    app = FastAPI()
    mount(app)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, dict(answer.headers), await answer.read()


@pytest.mark.parametrize("path", ["/admin", "/admin/"])
async def test_page_is_served_with_a_strict_csp(base_url: str, path: str) -> None:
    """/admin and /admin/ answer the page with a CSP that forbids inline and foreign script."""
    status, headers, body = await _get(base_url + path)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "default-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert b'<script type="module" src="/admin/assets/js/app.js">' in body


async def test_assets_are_served_with_their_type(base_url: str) -> None:
    """Scripts, the stylesheet and the icon come back with the right content type."""
    for path, kind in (
        ("js/app.js", "text/javascript"),
        ("style.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ):
        status, headers, body = await _get(f"{base_url}/admin/assets/{path}")
        assert status == 200, path
        assert headers["Content-Type"].startswith(kind)
        assert body == (STATIC / path).read_bytes()
        assert "Content-Security-Policy" in headers


async def test_a_reload_revalidates_assets_with_a_304(base_url: str) -> None:
    """Assets carry an ETag; asking again with it answers 304 with no body, same headers."""
    url = f"{base_url}/admin/assets/js/app.js"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as first:
            assert first.status == 200
            assert first.headers["Cache-Control"] == "no-cache"
            etag = first.headers["ETag"]
        async with session.get(url, headers={"If-None-Match": etag}) as again:
            assert again.status == 304
            assert await again.read() == b""
            assert again.headers["ETag"] == etag
        async with session.get(url, headers={"If-None-Match": '"another"'}) as changed:
            assert changed.status == 200


@pytest.mark.parametrize(
    "path", ["nope.js", "../routes.py", "..%2Froutes.py", "%2e%2e/__init__.py", "index.html"]
)
async def test_only_listed_assets_are_served(base_url: str, path: str) -> None:
    """Unknown names and path tricks answer 404; nothing outside static/ leaks."""
    status, _headers, body = await _get(f"{base_url}/admin/assets/{path}")
    assert status == 404
    assert b"import" not in body


def _scripts() -> list[Path]:
    return sorted(STATIC.rglob("*.js"))


def test_no_script_parses_strings_as_html() -> None:
    """No asset turns a string into markup or code: user text stays text everywhere."""
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setAttribute\(\s*[\"']on|\.srcdoc|createContextualFragment|DOMParser"
    )
    scripts = _scripts()
    assert len(scripts) >= 5
    for script in scripts:
        found = forbidden.findall(script.read_text(encoding="utf-8"))
        assert not found, f"{script.name} uses {found}"


def test_assets_load_nothing_from_other_origins() -> None:
    """The page works offline: no CDN, no font service, no absolute URL to load."""
    markup = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?(https?:)?//""")
    for asset in (STATIC / "index.html", *sorted(STATIC.glob("*.css"))):
        assert not markup.search(asset.read_text(encoding="utf-8")), asset.name
    code = re.compile(r"""(\bfrom\s*|import\(\s*|fetch\(\s*|new URL\(\s*)["'`](https?:)?//""")
    for script in _scripts():
        assert not code.search(script.read_text(encoding="utf-8")), script.name


def test_page_has_no_inline_script_or_style() -> None:
    """The CSP forbids inline code, so the page must not need any."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert "<style" not in html
    assert re.search(r"\son[a-z]+\s*=", html) is None
    assert re.search(r"\sstyle\s*=", html) is None


def test_both_languages_have_the_same_words() -> None:
    """Every text of the page exists in pt-BR; English overrides only known keys (i18n.js, and
    the words_*.js files it merges in: `<NAME>_PT = {` then `<NAME>_EN = {`)."""
    source = (STATIC / "js" / "i18n.js").read_text(encoding="utf-8")
    pt_blocks = [source[source.index("const PT = {") : source.index("const EN = {")]]
    en_blocks = [source[source.index("const EN = {") : source.index("const DICTS")]]
    words = sorted((STATIC / "js").glob("words_*.js"))
    assert len(words) >= 2
    for path in words:
        text = path.read_text(encoding="utf-8")
        pt_at, en_at = re.search(r"_PT = \{", text), re.search(r"_EN = \{", text)
        assert pt_at, path.name
        assert en_at, path.name
        assert path.stem in source, f"i18n.js does not merge {path.name}"
        pt_blocks.append(text[pt_at.start() : en_at.start()])
        en_blocks.append(text[en_at.start() :])
    key = re.compile(r'^\s*"([a-zA-Z0-9_.]+)":', re.MULTILINE)
    pt = {k for block in pt_blocks for k in key.findall(block)}
    en = {k for block in en_blocks for k in key.findall(block)}
    assert len(pt) > 150
    assert en <= pt, sorted(en - pt)
    used = set()
    for script in _scripts():
        used |= set(re.findall(r"""\bt\(\s*["']([a-zA-Z0-9_.]+)["']""", script.read_text()))
    assert used <= pt, sorted(used - pt)


@pytest.mark.slow
def test_wheel_carries_the_admin_page(tmp_path: Path) -> None:
    """A built (non-editable) wheel holds every static file of the page."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("disparo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "disparo/web/static/" + str(path.relative_to(STATIC))
        for path in STATIC.rglob("*")
        if path.is_file()
    }
    assert expected
    assert expected <= names, sorted(expected - names)
