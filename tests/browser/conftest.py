"""Browser tests: the admin page in headless Chromium against `disparo serve` and the simulator.

One stack per session: a fresh SQLite database (a copy of the migrated template), the simulator
and `disparo serve` as real processes on free ports. Each test seeds its own bot through the
demo seeder (simulator users, webhook /start, import routes), so tests stay independent.
Screenshots of the main screens go to test-output/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_page import ADMIN_TOKEN, Stack, free_port, wait_http
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("DISPARO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def stack(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`disparo serve` and the simulator on a fresh SQLite database, for the whole session."""
    workdir = tmp_path_factory.mktemp("browser")
    database = workdir / "disparo.sqlite3"
    shutil.copyfile(sqlite_template, database)
    sim_port, api_port = free_port(), free_port()
    sim_url, base_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{api_port}"
    env = {
        **os.environ,
        "DISPARO_DATABASE_URL": f"sqlite:///{database}",
        "DISPARO_ADMIN_TOKEN": ADMIN_TOKEN,
        "DISPARO_TELEGRAM_API_URL": sim_url,
        "DISPARO_PUBLIC_URL": base_url,
        "DISPARO_LOG_LEVEL": "WARNING",
        "DISPARO_API_DOCS": "true",
    }
    sim_log, api_log = workdir / "simulator.log", workdir / "serve.log"
    python = [sys.executable, "-m", "disparo"]
    with sim_log.open("wb") as sim_out, api_log.open("wb") as api_out:
        simulator = subprocess.Popen(
            [*python, "simulator", "--port", str(sim_port), "--latency-ms", "5"],
            env=env,
            cwd=workdir,
            stdout=sim_out,
            stderr=subprocess.STDOUT,
        )
        server = subprocess.Popen(
            [*python, "serve", "--port", str(api_port)],
            env=env,
            cwd=workdir,
            stdout=api_out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"{sim_url}/sim/health", simulator, sim_log, 20)
        wait_http(f"{base_url}/readyz", server, api_log, 30)
        yield Stack(base_url, sim_url, ADMIN_TOKEN, database)
    finally:
        _stop(server)
        _stop(simulator)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's), for one test module.

    Playwright's sync API keeps an event loop running in this thread while it lives, so it
    must be gone before any asyncio test of another module starts.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}. Install it (apt-get install -y chromium) or point "
            "DISPARO_CHROMIUM at a Chromium binary; the browser tests never download one."
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


IGNORED_CONSOLE = (
    # The API's 4xx answers (validation, 404) are expected by some tests; Chromium logs each.
    "Failed to load resource",
)


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A fresh browser context (empty storage), failing the test on any script error."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="pt-BR",
        timezone_id="America/Sao_Paulo",
        accept_downloads=True,
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and not message.text.startswith(IGNORED_CONSOLE)
            else None
        ),
    )
    yield tab
    context.close()
    assert not problems, problems
