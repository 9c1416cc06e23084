"""Helpers of the browser tests of A/B tests and conversions: the form's variant tabs and
conversion rows, shots with variants created through the API, who they reached, payments
planted after it, and money and rates written as the page writes them."""

from __future__ import annotations

import csv
import io
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from admin_page import Stack
from audience_page import import_rows
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


def wait_for_shot(stack: Stack, shot_id: int, done: Any, timeout_s: float = 40) -> dict[str, Any]:
    """Poll GET /shots/{id} until `done(shot)`; the shot then."""
    deadline = time.monotonic() + timeout_s
    while True:
        shot = dict(stack.api("GET", f"/admin/api/shots/{shot_id}"))
        if done(shot):
            return shot
        assert time.monotonic() < deadline, f"shot {shot_id} stayed {shot['status']}"
        time.sleep(0.3)


def recipients(stack: Stack, shot_id: int) -> list[dict[str, str]]:
    """The shot's recipients from its conversions CSV: telegram_id, group, status, ..."""
    request = urllib.request.Request(
        f"{stack.base_url}/admin/api/shots/{shot_id}/conversions.csv",
        headers={"Authorization": f"Bearer {stack.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return list(csv.DictReader(io.StringIO(answer.read().decode())))


def reached(rows: list[dict[str, str]]) -> dict[str, list[int]]:
    """The Telegram ids the shot reached (sent, or a holdout member's turn), per group."""
    groups: dict[str, list[int]] = {}
    for row in rows:
        if row["status"] in ("sent", "holdout"):
            groups.setdefault(row["group"], []).append(int(row["telegram_id"]))
    return groups


def pay_now(stack: Stack, slug: str, paid: dict[int, int]) -> None:
    """A PIX created and paid right now for each contact (`paid[telegram_id]` cents): after the
    shot reached them, so each counts as pix_created and paid, its amount as revenue."""
    when = datetime.now(UTC).isoformat()
    rows = [
        {"telegram_id": tid, "external_id": f"ab-{slug}-{tid}", "status": "paid"}
        | {"amount_cents": cents, "currency": "BRL", "created_at": when, "paid_at": when}
        for tid, cents in paid.items()
    ]
    import_rows(stack, slug, "transactions", rows)


def reais(cents: float) -> str:
    """R$ as the page writes it in pt-BR: R$ 1.499,00."""
    text = f"{cents / 100:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"R$\u00a0{text}"


def percent_pt(ratio: float) -> str:
    """A rate as the page writes it in pt-BR, one decimal: 35,7%."""
    return f"{ratio * 100:.1f}".replace(".", ",") + "%"
