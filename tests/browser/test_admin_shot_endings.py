"""How a shot's card and statistics show the audience rules' endings: the status expired and
the delivery reasons frequency_cap, expired and converted."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from admin_page import Stack, open_admin, screenshot, shot_card
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

REASONS = {"expired": 3, "frequency_cap": 2, "converted": 1}


def _end_as_expired(stack: Stack, shot_id: int) -> None:
    """Record the shot as the worker records an expiry: status expired, and some deliveries
    skipped for each new reason (written in the database: this checks the page, not the
    worker)."""
    with closing(sqlite3.connect(stack.database, timeout=10)) as conn, conn:
        conn.execute(
            "UPDATE shots_queue SET status = 'expired', expires_at = finished_at WHERE id = ?",
            (shot_id,),
        )
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT telegram_id FROM shots_sent WHERE shot_id = ? AND status = 'sent' "
                "ORDER BY seq LIMIT ?",
                (shot_id, sum(REASONS.values())),
            )
        ]
        assert len(ids) == sum(REASONS.values())
        for reason, n in REASONS.items():
            taken, ids = ids[:n], ids[n:]
            conn.executemany(
                "UPDATE shots_sent SET status = 'skipped', reason = ?, message_id = NULL "
                "WHERE shot_id = ? AND telegram_id = ?",
                [(reason, shot_id, tid) for tid in taken],
            )


def test_an_expired_shot_and_the_new_reasons(page: Page, stack: Stack) -> None:
    """Expirado as a final status with its figures and when it expired; the reasons table
    names frequency cap, expiry and conversion; in English too."""
    bot = stack.new_bot(30, name="Fim", rate_per_s=30)
    shot = stack.api(
        "POST",
        "/admin/api/shots",
        {"bot_slug": bot.slug, "target": "started", "copy": "Oferta até meia-noite."},
    )
    open_admin(page, stack, bot.slug)
    card = shot_card(page, shot["id"])
    expect(card).to_have_attribute("data-status", "sent", timeout=30_000)
    _end_as_expired(stack, shot["id"])

    expect(card).to_have_attribute("data-status", "expired", timeout=10_000)
    expect(card.locator(".badge")).to_have_text("Expirado")
    expect(card.locator(".shot-when")).to_contain_text("Expirou em")
    expect(card.get_by_test_id("count-skipped")).to_be_visible()
    screenshot(page, "43-shot-expired")

    card.locator('[data-action="details"]').click()
    reasons = page.get_by_test_id("by-reason")
    for reason, label in (
        ("expired", "Disparo expirado"),
        ("frequency_cap", "Limite de frequência"),
        ("converted", "Já converteu"),
    ):
        row = reasons.locator(f'[data-reason="{reason}"]')
        expect(row.locator(".reason-label")).to_have_text(label)
        expect(row.locator(".reason-count")).to_have_text(str(REASONS[reason]))
    expect(page.locator("h1 .badge")).to_have_text("Expirado")
    screenshot(page, "44-shot-expired-stats")

    page.locator('.topbar [data-lang="en"]').click()
    expect(page.locator("h1 .badge")).to_have_text("Expired")
    expect(reasons.locator('[data-reason="converted"] .reason-label')).to_have_text(
        "Already converted"
    )
    expect(reasons.locator('[data-reason="frequency_cap"] .reason-label')).to_have_text(
        "Frequency cap"
    )
