"""Shots on the admin page: create, watch, schedule, edit, cancel, pause, resume, statistics."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from admin_page import Stack, create_shot, open_admin, saved_shot_id, screenshot, shot_card
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

DONE_TIMEOUT_MS = 30_000


def _settled_progress(page: Page, card: Locator) -> int:
    """The card's done count once two readings 1.5 s apart agree."""
    previous = -1
    for _ in range(8):
        done = int(card.get_by_test_id("progress").get_attribute("data-done") or "0")
        if done == previous:
            return done
        previous = done
        page.wait_for_timeout(1500)
    pytest.fail(f"the paused shot kept moving: {previous} deliveries and counting")


def _metric(page: Page, key: str) -> int:
    return int(page.get_by_test_id(f"metric-{key}").get_attribute("data-value") or "0")


def test_a_shot_sent_now_fills_its_progress_bar_until_done(page: Page, stack: Stack) -> None:
    """Agora starts the shot at once; its bar moves live and the card ends with final stats."""
    bot = stack.new_bot(60, name="Agora", rate_per_s=10)
    reachable = bot.silently("active")
    open_admin(page, stack, bot.slug)

    page.get_by_test_id("new-shot").click()
    expect(page.get_by_test_id("estimate")).to_have_text(f"≈ {bot.audience} contatos")
    page.locator("#copy").fill("<b>Oferta relâmpago!</b> Só hoje: <i>frete grátis</i>.")
    expect(page.get_by_test_id("preview").locator("strong")).to_have_text("Oferta relâmpago!")
    screenshot(page, "03-new-shot")
    page.get_by_test_id("save-shot").click()

    card = shot_card(page, saved_shot_id(page))
    expect(card).to_have_attribute("data-status", "running", timeout=DONE_TIMEOUT_MS)
    progress = card.get_by_test_id("progress")
    expect(progress).to_have_attribute("data-total", str(bot.audience))
    expect(progress).not_to_have_attribute("data-done", "0")
    expect(card).to_contain_text("/s")
    screenshot(page, "04-shot-running")

    expect(card).to_have_attribute("data-status", "sent", timeout=DONE_TIMEOUT_MS)
    expect(card.locator(".badge")).to_have_text("Concluído")
    expect(card.get_by_test_id("count-sent")).to_contain_text(str(reachable))
    expect(card.get_by_test_id("count-sent")).to_contain_text("Enviados")
    expect(card.get_by_test_id("count-skipped")).to_contain_text(str(bot.audience - reachable))
    expect(card.get_by_test_id("final-stats")).to_contain_text("Pulados")
    assert card.get_by_test_id("progress").count() == 0

    card.locator('[data-action="duplicate"]').click()  # a new shot, pre-filled
    expect(page.get_by_role("heading", name=re.compile(r"Cópia do disparo #\d+"))).to_be_visible()
    expect(page.locator("#copy")).to_have_value(
        "<b>Oferta relâmpago!</b> Só hoje: <i>frete grátis</i>."
    )


def test_metrics_card_shows_the_blocked_users_a_shot_found(page: Page, stack: Stack) -> None:
    """After a shot meets users who blocked the bot, Bloqueados and Desativados go up."""
    bot = stack.new_bot(80, name="Metricas")
    silent_blocked, deactivated = bot.silently("blocked"), bot.silently("deactivated")
    assert silent_blocked > 0
    assert deactivated > 0
    open_admin(page, stack, bot.slug)
    blocked_before = _metric(page, "blocked")
    active_before = _metric(page, "active")
    assert _metric(page, "deactivated") == 0

    shot_id = create_shot(page, "Seu PIX expira hoje. Garanta o desconto!")
    expect(shot_card(page, shot_id)).to_have_attribute("data-status", "sent", timeout=30_000)

    blocked = page.get_by_test_id("metric-blocked")
    expect(blocked).to_have_attribute("data-value", str(blocked_before + silent_blocked))
    expect(page.get_by_test_id("metric-deactivated")).to_have_attribute(
        "data-value", str(deactivated)
    )
    assert _metric(page, "active") == active_before - silent_blocked - deactivated
    assert stack.metrics(bot.slug)["blocked"] == blocked_before + silent_blocked
    screenshot(page, "05-metrics-after-shot")


def test_schedule_edit_and_cancel_a_shot(page: Page, stack: Stack) -> None:
    """Programar holds the shot at the bot's local time; it can be edited, then cancelled."""
    bot = stack.new_bot(20, name="Agenda", timezone="America/Manaus")
    zone = ZoneInfo("America/Manaus")
    day = (datetime.now(zone) + timedelta(days=2)).date()
    open_admin(page, stack, bot.slug)

    page.get_by_test_id("new-shot").click()
    estimate = page.get_by_test_id("estimate")
    expect(estimate).to_have_attribute("data-count", str(bot.audience))
    page.locator("#recency").check()  # only those seen in the last day: the /start ones
    page.locator("#recency_days").fill("1")
    recent = sum(1 for u in bot.users if u.recent and not u.announces_block)
    expect(estimate).to_have_attribute("data-count", str(recent))
    page.locator("#recency").uncheck()
    page.locator('[data-group="target"] [data-value="pix_created"]').click()
    expect(estimate).to_have_attribute("data-count", re.compile(r"\d+"))
    page.locator('[data-group="when"] [data-value="schedule"]').click()
    page.locator("#scheduled_at").fill(f"{day.isoformat()}T09:30")
    expect(page.locator(".schedule-row")).to_contain_text("America/Manaus (UTC−04:00)")
    page.locator("#copy").fill("Lembrete: seu PIX ainda está aberto.")
    screenshot(page, "06-schedule-form")
    page.get_by_test_id("save-shot").click()

    shot_id = saved_shot_id(page)
    card = shot_card(page, shot_id)
    expect(card).to_have_attribute("data-status", "pending")
    expect(card.locator(".badge")).to_have_text("Agendado")
    expect(card).to_contain_text(f"Programado para {day:%d/%m/%Y}, 09:30")
    expect(card.locator(".chip-pix_created")).to_have_text("PIX")
    stored = stack.shots(bot.slug)[0]
    assert datetime.fromisoformat(stored["scheduled_at"]).astimezone(zone).hour == 9

    card.locator('[data-action="edit"]').click()
    expect(page.locator("#copy")).to_have_value("Lembrete: seu PIX ainda está aberto.")
    expect(page.locator("#scheduled_at")).to_have_value(f"{day.isoformat()}T09:30")
    tester = next(u for u in bot.users if u.state == "active")
    page.locator("#test_chat").fill(str(tester.id))
    page.get_by_test_id("send-test").click()
    expect(page.locator(".toast", has_text="Teste enviado")).to_have_text(
        f"Teste enviado para {tester.id}."
    )
    received = stack.sim_messages(bot, tester.id)
    assert [m["text"] for m in received] == ["Lembrete: seu PIX ainda está aberto."]
    page.locator("#scheduled_at").fill(f"{day.isoformat()}T18:45")
    page.locator("#copy").fill("Última chamada: seu PIX expira às 20h.")
    page.get_by_test_id("save-shot").click()
    expect(card).to_contain_text(f"Programado para {day:%d/%m/%Y}, 18:45")
    expect(card).to_contain_text("Última chamada: seu PIX expira às 20h.")
    screenshot(page, "07-shot-scheduled")

    card.locator('[data-action="cancel"]').click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Cancelar o disparo #{shot_id}?")
    dialog.get_by_test_id("confirm-ok").click()
    expect(card).to_have_attribute("data-status", "cancelled")
    expect(card.locator(".badge")).to_have_text("Cancelado")
    assert stack.shots(bot.slug)[0]["status"] == "cancelled"


def test_pause_and_resume_a_running_shot(page: Page, stack: Stack) -> None:
    """Pausar stops the bar where it is; Retomar goes on from there; Cancelar ends it."""
    bot = stack.new_bot(400, name="Pausa", rate_per_s=5)
    open_admin(page, stack, bot.slug)
    card = shot_card(page, create_shot(page, "Aula ao vivo hoje às 20h!"))
    expect(card).to_have_attribute("data-status", "running", timeout=10_000)
    expect(card.get_by_test_id("progress")).not_to_have_attribute("data-done", "0")

    card.locator('[data-action="pause"]').click()
    expect(card).to_have_attribute("data-status", "paused")
    expect(card.locator(".badge")).to_have_text("Pausado")
    done = _settled_progress(page, card)  # in-flight sends land, then nothing moves
    page.wait_for_timeout(1500)
    assert int(card.get_by_test_id("progress").get_attribute("data-done") or "0") == done
    assert 0 < done < bot.audience
    screenshot(page, "08-shot-paused")

    card.locator('[data-action="resume"]').click()
    expect(card).to_have_attribute("data-status", "running", timeout=10_000)
    expect(card.get_by_test_id("progress")).not_to_have_attribute("data-done", str(done))

    card.locator('[data-action="cancel"]').click()
    page.get_by_role("dialog").get_by_test_id("confirm-ok").click()
    expect(card).to_have_attribute("data-status", "cancelled", timeout=10_000)


def test_stats_view_breaks_down_reasons_charts_and_logs_every_recipient(
    page: Page, stack: Stack
) -> None:
    """Estatísticas shows counters, reasons, a delivery chart and a filterable, downloadable log."""
    bot = stack.new_bot(50, name="Relatorio")
    skipped = bot.audience - bot.silently("active")
    open_admin(page, stack, bot.slug)
    shot_id = create_shot(page, "Novidade no curso: módulo bônus liberado.")
    card = shot_card(page, shot_id)
    expect(card).to_have_attribute("data-status", "sent", timeout=30_000)

    card.locator('[data-action="details"]').click()
    expect(page.get_by_role("heading", name=f"Disparo #{shot_id}")).to_be_visible()
    expect(page.get_by_test_id("count-total")).to_contain_text(str(bot.audience))
    expect(page.get_by_test_id("count-skipped")).to_contain_text(str(skipped))
    reasons = page.get_by_test_id("by-reason")
    expect(reasons).to_contain_text("Bloqueou o bot")
    expect(page.get_by_test_id("chart").locator("svg polygon").first).to_be_visible()
    rows = page.get_by_test_id("deliveries").locator("tbody tr")
    expect(rows).to_have_count(bot.audience)
    screenshot(page, "10-shot-stats")

    page.get_by_test_id("delivery-filter").select_option("skipped")
    expect(rows).to_have_count(skipped)
    for status in rows.evaluate_all("rows => rows.map(r => r.dataset.status)"):
        assert status == "skipped"

    with page.expect_download() as download_info:
        page.get_by_test_id("csv").click()
    download = download_info.value
    assert download.suggested_filename == f"disparo-{shot_id}.csv"
    lines = Path(download.path()).read_text(encoding="utf-8").strip().splitlines()
    assert lines[0].startswith("telegram_id,")
    assert len(lines) == 1 + bot.audience
