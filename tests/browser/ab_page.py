"""Helpers of the browser tests of A/B tests and conversions: the form's variant tabs and
conversion rows, and shots with variants created through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from admin_page import Stack
from playwright.sync_api import Locator, Page, expect


def tomorrow_at(clock: str, zone: str = "America/Sao_Paulo") -> str:
    """A datetime-local value for tomorrow at `clock` (HH:MM) in the bot's zone."""
    day = (datetime.now(ZoneInfo(zone)) + timedelta(days=1)).date()
    return f"{day.isoformat()}T{clock}"


def open_variants(page: Page) -> None:
    """Tick "Testar variantes" and wait for the tabs A and B."""
    page.get_by_test_id("ab-variants").check()
    expect(page.get_by_test_id("variants")).to_be_visible()
    expect(page.locator(".variant-tab")).to_have_count(2)


def variant_tab(page: Page, index: int) -> Locator:
    """The tab of variant `index` (0 is A)."""
    return page.locator(f'.variant-tab[data-variant="{index}"]')


def variant_field(page: Page, index: int, name: str) -> Locator:
    """A control of variant `index`, by the API's field name (copy, media_url, name, weight)."""
    return page.locator(f'[id="variants[{index}].{name}"]')


def conversion_row(page: Page, index: int) -> Locator:
    """Row `index` of the conversion events (0 is the primary)."""
    return page.locator(f'.goal-row[data-row="{index}"]')


def create_ab_shot(
    stack: Stack,
    slug: str,
    *,
    variants: list[tuple[str, str, int]],
    holdout_percent: int = 0,
    conversions: list[dict[str, Any]] | None = None,
    winner: dict[str, int] | None = None,
    scheduled_at: str | None = None,
) -> int:
    """A pending shot (due tomorrow unless told) with `(name, copy, weight)` variants."""
    when = scheduled_at or (datetime.now(ZoneInfo("UTC")) + timedelta(days=1)).isoformat()
    body: dict[str, Any] = {
        "bot_slug": slug,
        "target": "started",
        "scheduled_at": when,
        "variants": [{"name": n, "copy": c, "weight": w} for n, c, w in variants],
        "holdout_percent": holdout_percent,
        "winner": winner,
    }
    if conversions is not None:
        body["conversions"] = conversions
    return int(stack.api("POST", "/admin/api/shots", body)["id"])
