"""A shot's conversions on its statistics screen: the report's sentence, the table per group
(recipients, delivered, conversions and rates, revenue, the lift against the holdout and its
significance), the charts, the CSV and winner mode, in pt-BR and English."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ab_page import create_ab_shot, pay_now, percent_pt, reached, reais, recipients, wait_for_shot
from admin_page import Stack, open_admin, screenshot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

GOALS = [{"event": "paid", "window_hours": 72}, {"event": "pix_created", "window_hours": 24}]
PRICE = {"holdout": 4_990, "A": 9_990, "B": 14_990}


def _text(page: Page, group: str, col: str) -> str:
    cell = page.locator(
        f'[data-testid="conversions-table"] tr[data-group="{group}"] [data-col="{col}"]'
    )
    return cell.inner_text().replace("\u00a0", " ")


def test_the_report_of_a_finished_shot_with_variants_and_a_holdout(
    page: Page, stack: Stack
) -> None:
    """Buyers planted after the shot (1 of the holdout, 2 of A, 60 % of B) come back in the
    table as counted, B's lift marked significant and A's not, with the API's sentence on top;
    the CSV downloads; everything reads in English too."""
    bot = stack.new_bot(80, name="Relatorio", rate_per_s=30)
    shot_id = create_ab_shot(
        stack,
        bot.slug,
        variants=[("A", "Oferta A", 1), ("B", "Oferta B", 1)],
        holdout_percent=20,
        conversions=GOALS,
        scheduled_at=datetime.now(UTC).isoformat(),
    )
    wait_for_shot(stack, shot_id, lambda s: s["status"] == "sent")
    rows = recipients(stack, shot_id)
    groups = reached(rows)
    buyers = {
        "holdout": groups["holdout"][:1],
        "A": groups["A"][:2],
        "B": groups["B"][: math.ceil(0.6 * len(groups["B"]))],
    }
    time.sleep(1.1)  # the payments come after every delivery
    pay_now(stack, bot.slug, {tid: PRICE[g] for g, ids in buyers.items() for tid in ids})
    report = stack.api("GET", f"/admin/api/shots/{shot_id}/conversions")
    by_name = {g["name"]: g for g in report["groups"]}
    assert sorted(by_name) == ["A", "B", "holdout"]
    assert by_name["B"]["significant"] is True
    assert by_name["A"]["significant"] is False

    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/shots/{shot_id}")
    panel = page.get_by_test_id("conversions")
    expect(panel.get_by_test_id("conversions-summary")).to_have_text(report["summary"]["pt-BR"])
    assert report["summary"]["pt-BR"].startswith("A variante B gerou R$ ")
    expect(panel.get_by_test_id("conversion-events")).to_contain_text(
        "Evento principal: Pagou em até 72 h; também: Gerou PIX em até 24 h."
    )
    table = panel.get_by_test_id("conversions-table")
    expect(table.locator("thead th")).to_have_text(
        [
            "Grupo",
            "Destinatários",
            "Entregues",
            "Pagou",
            "Gerou PIX",
            "Receita",
            "Receita por destinatário",
            "Contra o controle (Pagou)",
            "Receita a mais",
        ]
    )
    for name in ("A", "B", "holdout"):
        members = [r for r in rows if r["group"] == name]
        sent = sum(1 for r in members if r["status"] == "sent")
        bought = len(buyers[name])
        assert _text(page, name, "recipients") == str(len(members))
        assert _text(page, name, "delivered") == (str(sent) if name != "holdout" else "—")
        rate = percent_pt(bought / len(members))
        assert _text(page, name, "event-paid").startswith(f"{bought} {rate}")
        assert _text(page, name, "event-pix_created").startswith(f"{bought} {rate}")
        assert _text(page, name, "revenue") == reais(bought * PRICE[name]).replace("\u00a0", " ")
    row_b = table.locator('tr[data-group="B"]')
    expect(row_b.get_by_test_id("significant")).to_have_text("✓ significativo")
    expect(table.locator('tr[data-group="A"]').get_by_test_id("not-significant")).to_have_text(
        "pode ser zero"
    )
    expect(table.locator('tr[data-group="holdout"] [data-col="lift"]')).to_have_text("referência")
    lift_b = by_name["B"]["lift"]["paid"]["absolute"]
    expect(row_b.locator('[data-col="lift"] .conv-lift')).to_have_text(
        "+" + f"{lift_b['value'] * 100:.1f}".replace(".", ",") + " p.p."
    )
    expect(panel.get_by_test_id("lift-chart").locator(".whisker")).to_have_count(2)
    expect(panel.get_by_test_id("revenue-lift-chart").locator(".whisker")).to_have_count(2)
    expect(panel.get_by_test_id("conversions-chart").locator("polyline")).to_have_count(3)
    screenshot(page, "58-ab-report")

    with page.expect_download() as download_info:
        panel.get_by_test_id("conversions-csv").click()
    download = download_info.value
    assert download.suggested_filename == f"disparo-{shot_id}-conversoes.csv"
    header = Path(download.path()).read_text(encoding="utf-8").splitlines()[0]
    assert header == "telegram_id,group,status,reached_at,paid_at,pix_created_at,revenue_cents"

    page.locator('.topbar [data-lang="en"]').click()
    panel = page.get_by_test_id("conversions")
    expect(panel.get_by_test_id("conversions-summary")).to_have_text(report["summary"]["en"])
    expect(panel.get_by_test_id("conversion-events")).to_contain_text(
        "Primary event: Paid within 72 h; also: Generated a PIX within 24 h."
    )
    expect(panel.locator('tr[data-group="B"] th')).to_have_text("Variant B")
    expect(panel.locator('tr[data-group="holdout"] th')).to_have_text("Holdout (sent nothing)")
    expect(panel.locator("thead th").nth(7)).to_have_text("Against the holdout (Paid)")
    expect(panel.locator('tr[data-group="B"]').get_by_test_id("significant")).to_have_text(
        "✓ significant"
    )
    cents = len(buyers["B"]) * PRICE["B"]
    assert _text(page, "B", "revenue") == f"R${cents / 100:,.2f}"
    screenshot(page, "60-ab-report-en")


def test_winner_mode_waits_for_its_decision_and_shows_it(page: Page, stack: Stack) -> None:
    """After the test share the panel says when the winner is picked, with the rest awaiting
    it; once the decision is recorded (written here as the worker writes it) it names the
    winner, the reason and each variant's numbers."""
    bot = stack.new_bot(40, name="Vencedora", rate_per_s=30)
    shot_id = create_ab_shot(
        stack,
        bot.slug,
        variants=[("A", "Oferta A", 1), ("B", "Oferta B", 1)],
        holdout_percent=10,
        winner={"test_percent": 50, "wait_hours": 2, "min_sample": 10},
        scheduled_at=datetime.now(UTC).isoformat(),
    )
    waiting = wait_for_shot(
        stack, shot_id, lambda s: bool((s["winner_decision"] or {}).get("decide_at"))
    )
    assert waiting["status"] == "pending"
    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/shots/{shot_id}")
    panel = page.get_by_test_id("conversions")
    expect(panel.get_by_test_id("winner-waiting")).to_contain_text("Teste concluído em")
    expect(panel.get_by_test_id("winner-waiting")).to_contain_text("(daqui a 1 h 59 min)")
    expect(panel.locator('tr[data-group="undecided"] th')).to_have_text("Aguardando a vencedora")
    expect(page.locator(".badge-pending").first).to_have_text("Aguardando vencedora")

    decision = {
        **waiting["winner_decision"],
        "winner": "B",
        "reason": "significant",
        "best": "B",
        "event": "paid",
        "arms": [
            {"name": "A", "recipients": 12, "conversions": 1},
            {"name": "B", "recipients": 14, "conversions": 6},
        ],
        "rates": {"A": 1 / 12, "B": 6 / 14},
        "difference": {"value": 0.345, "low": 0.012, "high": 0.61},
        "decided_at": datetime.now(UTC).isoformat(),
    }
    with closing(sqlite3.connect(stack.database, timeout=10)) as conn, conn:
        conn.execute(
            "UPDATE shots_queue SET winner_decision = ? WHERE id = ?",
            (json.dumps(decision), shot_id),
        )
    page.reload()
    status = page.get_by_test_id("winner-status")
    expect(status.get_by_test_id("winner-decision")).to_have_text(
        "Vencedora: variante B, com a maior taxa de “Pagou” e diferença significativa."
    )
    expect(status).to_contain_text("A: 1 de 12 (8,3%) · B: 6 de 14 (42,9%)")
    expect(status).to_contain_text(
        "B contra a segunda melhor: +34,5 p.p. (IC 95 %: +1,2 p.p. a +61,0 p.p.)"
    )
    screenshot(page, "61-ab-winner")
    page.locator('.topbar [data-lang="en"]').click()
    expect(page.get_by_test_id("winner-decision")).to_have_text(
        "Winner: variant B, with the best “Paid” rate and a significant difference."
    )
