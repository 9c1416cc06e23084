"""Helpers of the browser tests of the bot's report: shots sent for real through the worker and
the simulator, a tracked button followed as a contact would, the report and its CSV as the API
gives them, and figures written as the page writes them."""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ab_page import wait_for_shot
from admin_page import SeededBot, Stack
from playwright.sync_api import Locator, Page

OFFER_URL = "https://example.com/oferta"


def send_shot(stack: Stack, slug: str, copy: str, *, button: bool = True) -> int:
    """A shot to the bot's /start contacts, due now (with a link button), once it is sent."""
    body: dict[str, Any] = {
        "bot_slug": slug,
        "target": "started",
        "scheduled_at": datetime.now(UTC).isoformat(),
        "copy": copy,
        "buttons": [[{"text": "Quero", "url": OFFER_URL}]] if button else None,
    }
    shot_id = int(stack.api("POST", "/admin/api/shots", body)["id"])
    wait_for_shot(stack, shot_id, lambda s: s["status"] == "sent")
    return shot_id


def delivered_to(stack: Stack, shot_id: int) -> list[int]:
    """The Telegram ids the shot was delivered to."""
    page = stack.api("GET", f"/admin/api/shots/{shot_id}/deliveries?status=sent&limit=500")
    return [int(item["telegram_id"]) for item in page["items"]]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def click_button(stack: Stack, bot: SeededBot, chat_id: int, copy: str) -> str:
    """Press the first button of the message `copy` that chat `chat_id` received (the URL the
    simulator recorded), as Telegram's client would; the address the redirect answered with."""
    sent = [m for m in stack.sim_messages(bot, chat_id) if copy in (m["text"] or "")]
    assert sent, f"chat {chat_id} received no message with {copy!r}"
    url = sent[-1]["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert url != OFFER_URL, "the button was sent untracked"
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as answer:
            status, location = answer.status, None
    except urllib.error.HTTPError as redirect:
        status, location = redirect.code, redirect.headers["Location"]
    assert status in (302, 303, 307), f"{url} answered {status}, not a redirect"
    return str(location)


def report(stack: Stack, slug: str, **params: str) -> dict[str, Any]:
    """GET /bots/{slug}/report as the API answers it."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return dict(stack.api("GET", f"/admin/api/bots/{slug}/report" + (f"?{query}" if query else "")))


def csv_rows(text: str) -> list[dict[str, str]]:
    """The rows of a CSV download."""
    return list(csv.DictReader(io.StringIO(text)))


def today(zone: str = "America/Sao_Paulo") -> date:
    """Today on the bot's wall clock."""
    return datetime.now(ZoneInfo(zone)).date()


def days_ago(n: int, zone: str = "America/Sao_Paulo") -> str:
    """The date `n` days before today in the bot's zone, as the API writes dates."""
    return (today(zone) - timedelta(days=n)).isoformat()


def number_pt(n: int) -> str:
    """A count as the page writes it in pt-BR: 1.234."""
    return f"{n:,}".replace(",", ".")


def total(page: Page, key: str) -> Locator:
    """The value of one totals card (recipients, delivered, blocked, clicked, ...)."""
    return page.get_by_test_id(f"total-{key}").get_by_test_id("value")


def shot_cell(page: Page, shot_id: int, col: str) -> Locator:
    """A cell of the shots table: the count of a funnel step, or the revenue columns."""
    cell = page.locator(
        f'[data-testid="report-shots"] tr[data-shot-id="{shot_id}"] [data-col="{col}"]'
    )
    counted = cell.locator(".funnel-count")
    return counted if col in ("audience", "delivered", "clicked", "pix", "paid") else cell
