"""A large shot's card while its audience is still being written: the progress counts the
recipients written so far and says the audience is still being written (pt-BR and English)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from admin_page import Stack, open_admin, screenshot, shot_card
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

WRITTEN, SENT = 12, 5


def _writing_elsewhere(stack: Stack, shot_id: int, slug: str) -> None:
    """The shot as another worker holds it a moment into its snapshot: running, its first
    12 recipients written (5 of them sent), the rest still to come (written in the database:
    this checks the page, not the worker)."""
    lease = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None)
    with closing(sqlite3.connect(stack.database, timeout=10)) as conn, conn:
        conn.execute(
            "UPDATE shots_queue SET status = 'running', locked_by = 'another-worker', "
            "lease_expires_at = ?, started_at = ?, audience_total = ?, audience_complete = 0 "
            "WHERE id = ?",
            (str(lease), str(lease - timedelta(days=1)), WRITTEN, shot_id),
        )
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT telegram_id FROM telegram_contacts WHERE bot_slug = ? "
                "ORDER BY telegram_id LIMIT ?",
                (slug, WRITTEN),
            )
        ]
        conn.executemany(
            "INSERT INTO shots_sent (shot_id, bot_slug, telegram_id, seq, status) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (shot_id, slug, tid, seq, "sent" if seq <= SENT else "pending")
                for seq, tid in enumerate(ids, 1)
            ],
        )


def _let_go(stack: Stack, shot_id: int) -> None:
    with closing(sqlite3.connect(stack.database, timeout=10)) as conn, conn:
        conn.execute(
            "UPDATE shots_queue SET status = 'cancelled', locked_by = NULL, "
            "lease_expires_at = NULL WHERE id = ?",
            (shot_id,),
        )


def test_a_shot_whose_audience_is_still_being_written(page: Page, stack: Stack) -> None:
    """The card's bar counts 5 of the 12 written so far and says the audience is still being
    written; the statistics view gives no time left yet; in English too."""
    bot = stack.new_bot(40, name="Grande", rate_per_s=30)
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    shot = stack.api(
        "POST",
        "/admin/api/shots",
        {"bot_slug": bot.slug, "target": "started", "copy": "Lançamento!", "scheduled_at": later},
    )
    _writing_elsewhere(stack, shot["id"], bot.slug)
    try:
        stats = stack.api("GET", f"/admin/api/shots/{shot['id']}/stats")
        assert (stats["audience_complete"], stats["total"], stats["eta_s"]) == (
            False,
            WRITTEN,
            None,
        )
        open_admin(page, stack, bot.slug)
        card = shot_card(page, shot["id"])
        progress = card.get_by_test_id("progress")
        expect(progress).to_have_attribute("data-audience-complete", "false")
        expect(progress).to_have_attribute("data-total", str(WRITTEN))
        expect(progress).to_have_attribute("data-done", str(SENT))
        expect(progress).to_contain_text(f"gravando o público: {WRITTEN} até agora")
        screenshot(page, "89-shot-audience-writing")

        page.locator('.topbar [data-lang="en"]').click()
        expect(progress).to_contain_text(f"writing the audience: {WRITTEN} so far")
    finally:
        _let_go(stack, shot["id"])
    card = shot_card(page, shot["id"])
    expect(card).to_have_attribute("data-status", "cancelled", timeout=10_000)
    expect(card.get_by_test_id("progress")).to_have_count(0)
