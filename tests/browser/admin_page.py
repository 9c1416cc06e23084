"""Helpers of the browser tests: the running stack, signing in, screenshots, shot cards."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from playwright.sync_api import Page, expect

from disparo.demo.seed import DemoBot, PlannedUser, Seeder, SeedReport, demo_token, plan_users

ADMIN_TOKEN = "browser-tests-Admin-Token-7c1e9b"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
_bot_numbers = itertools.count(1)

T = TypeVar("T")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine in a thread of its own (Playwright's sync API owns this thread)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    """Wait until `url` answers 200; fail with the process's log if it exits or stays silent."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout_s} s:\n{log.read_text()[-3000:]}")


@dataclass
class SeededBot:
    """A bot this test seeded: its settings and what its users became."""

    bot: DemoBot
    users: list[PlannedUser]

    @property
    def slug(self) -> str:
        """The bot's slug."""
        return self.bot.slug

    @property
    def audience(self) -> int:
        """Contacts a /start shot goes to: all but those known to have blocked the bot."""
        return sum(1 for u in self.users if not u.announces_block)

    def silently(self, state: str) -> int:
        """Contacts in `state` on Telegram's side that the bot does not know about yet."""
        return sum(1 for u in self.users if u.state == state and not u.announces_block)


@dataclass
class Stack:
    """The running server and simulator, and helpers to talk to them."""

    base_url: str
    sim_url: str
    token: str
    database: Path

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the admin API (for set-up and for checking what the page did)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def new_bot(
        self, users: int, *, name: str = "Bot", rate_per_s: int = 25, timezone: str = ""
    ) -> SeededBot:
        """Register and seed a fresh bot with `users` simulated users."""
        number = next(_bot_numbers)
        bot = DemoBot(
            slug=f"t{number}-{name.lower().replace(' ', '-')}",
            name=f"{name} {number}",
            token=demo_token(8_100_000_000 + number, "browser"),
            users=users,
            rate_per_s=rate_per_s,
            timezone=timezone or "America/Sao_Paulo",
            first_user_id=number * 1_000_000,
        )

        async def seed() -> None:
            async with aiohttp.ClientSession() as session:
                seeder = Seeder(session, self.base_url, self.sim_url, self.token)
                await seeder.seed_bot(bot, SeedReport())

        run_async(seed())
        return SeededBot(bot, plan_users(bot))

    def shots(self, slug: str) -> list[dict[str, Any]]:
        """The bot's shots, newest first."""
        return list(self.api("GET", f"/admin/api/shots?bot_slug={slug}")["items"])

    def sim_messages(self, bot: SeededBot, chat_id: int) -> list[dict[str, Any]]:
        """What the simulated Telegram delivered to one chat of `bot`."""
        url = f"{self.sim_url}/sim/bots/{bot.bot.token}/messages?chat_id={chat_id}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return list(json.loads(answer.read())["result"])

    def metrics(self, slug: str) -> dict[str, Any]:
        """The bot's metrics card, as the API reports it."""
        return dict(self.api("GET", f"/admin/api/bots/{slug}/metrics"))


def open_admin(page: Page, stack: Stack, slug: str | None = None) -> None:
    """Open the page signed in (the demo's #token= link) on the bot `slug`."""
    page.goto(f"{stack.base_url}/admin/#token={stack.token}")
    expect(page.locator("#bot-select")).to_be_visible()
    if slug is not None:
        if page.locator("#bot-select").input_value() != slug:
            page.select_option("#bot-select", slug)
        expect(page.locator(".page-sub")).to_contain_text(slug_name(stack, slug))


def slug_name(stack: Stack, slug: str) -> str:
    """The display name the page shows for a bot."""
    bot = stack.api("GET", f"/admin/api/bots/{slug}")
    return str(bot.get("name") or slug)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot for reviewers: test-output/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar belongs at the top
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def shot_card(page: Page, shot_id: int | str) -> Any:
    """The card of one shot on the list."""
    return page.locator(f'[data-testid="shot-card"][data-shot-id="{shot_id}"]')


def saved_shot_id(page: Page) -> int:
    """The id of the shot the form just saved, read from its "Disparo #N salvo." toast."""
    toast = page.locator(".toast", has_text=re.compile(r"Disparo #\d+ salvo")).last
    expect(toast).to_be_visible()
    match = re.search(r"#(\d+)", toast.inner_text())
    assert match, toast.inner_text()
    return int(match.group(1))


def create_shot(
    page: Page,
    copy: str,
    *,
    target: str = "started",
    schedule: str | None = None,
) -> int:
    """Fill "Novo disparo", submit it, and return the new shot's id.

    `schedule` is a datetime-local value in the bot's time zone, or None for "Agora".
    """
    page.get_by_test_id("new-shot").click()
    form = page.get_by_test_id("shot-form")
    expect(form).to_be_visible()
    form.locator(f'[data-group="target"] [data-value="{target}"]').click()
    if schedule is not None:
        form.locator('[data-group="when"] [data-value="schedule"]').click()
        form.locator("#scheduled_at").fill(schedule)
    form.locator("#copy").fill(copy)
    form.get_by_test_id("save-shot").click()
    return saved_shot_id(page)
