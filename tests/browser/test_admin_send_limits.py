"""A bot's sending limits on the admin page: the frequency cap and quiet hours in the bot's edit
form, and a shot that waits for the quiet hours to end saying until when."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from admin_page import Stack, create_shot, open_admin, screenshot, shot_card
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_frequency_cap_and_quiet_hours_are_set_checked_and_switched_off(
    page: Page, stack: Stack
) -> None:
    """Both are off by default; on, they are stored and listed on the card in words; equal quiet
    hours are refused beside their field; off again, they are null."""
    bot = stack.new_bot(3, name="Limites")
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Bots").click()
    card = page.locator(f'[data-testid="bot-card"][data-slug="{bot.slug}"]')
    expect(card.locator(".facts")).to_contain_text("Limite de frequência")
    expect(card.locator(".facts")).to_contain_text("desligado")

    card.locator('[data-action="edit-bot"]').click()
    edit = card.get_by_test_id("bot-edit")
    cap_max, cap_hours = (
        edit.locator(f"#cap-max-{bot.slug}"),
        edit.locator(f"#cap-hours-{bot.slug}"),
    )
    expect(cap_max).to_be_disabled()
    edit.locator(f"#cap-{bot.slug}").check()
    cap_max.fill("2")
    cap_hours.fill("48")
    edit.locator(f"#quiet-{bot.slug}").check()
    edit.locator(f"#quiet-start-{bot.slug}").fill("21:30")
    edit.locator(f"#quiet-end-{bot.slug}").fill("21:30")
    edit.get_by_role("button", name="Salvar").click()
    quiet_field = edit.locator('[data-field="quiet_hours"]')
    expect(quiet_field.locator(".field-error")).to_have_text(
        "Use dois horários diferentes, como 22:00 e 08:00."
    )
    edit.locator(f"#quiet-end-{bot.slug}").fill("07:45")
    screenshot(page, "40-bot-send-limits")
    edit.get_by_role("button", name="Salvar").click()

    expect(card.locator(".facts")).to_contain_text("no máximo 2 disparos a cada 48 h por contato")
    expect(card.locator(".facts")).to_contain_text("das 21:30 às 07:45")
    stored = stack.api("GET", f"/admin/api/bots/{bot.slug}")
    assert (stored["max_shots_per_contact"], stored["cap_window_hours"]) == (2, 48)
    assert stored["quiet_hours"] == {"start": "21:30", "end": "07:45"}

    page.locator('.topbar [data-lang="en"]').click()
    expect(card.locator(".facts")).to_contain_text("at most 2 shots per contact every 48 h")
    expect(card.locator(".facts")).to_contain_text("from 21:30 to 07:45")
    card.locator('[data-action="edit-bot"]').click()
    edit = card.get_by_test_id("bot-edit")
    expect(edit.locator("legend")).to_have_text("Sending limits")
    expect(edit.locator(f"#cap-max-{bot.slug}")).to_have_value("2")
    screenshot(page, "41-bot-send-limits-english")
    edit.locator(f"#cap-{bot.slug}").uncheck()
    edit.locator(f"#quiet-{bot.slug}").uncheck()
    edit.get_by_role("button", name="Save").click()
    expect(card.locator(".facts")).not_to_contain_text("at most")
    stored = stack.api("GET", f"/admin/api/bots/{bot.slug}")
    assert (stored["max_shots_per_contact"], stored["cap_window_hours"]) == (None, None)
    assert stored["quiet_hours"] is None


def test_a_shot_in_quiet_hours_says_until_when_it_waits(page: Page, stack: Stack) -> None:
    """Quiet hours around now (set in the edit form, in the bot's zone): a shot due now says it
    waits for them to end at the end's local time, on its card and its statistics."""
    bot = stack.new_bot(200, name="Silencio", rate_per_s=2, timezone="America/Recife")
    local = datetime.now(ZoneInfo("America/Recife"))
    start, end = (
        (local - timedelta(hours=1)).strftime("%H:%M"),
        (local + timedelta(hours=2)).strftime("%H:%M"),
    )
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Bots").click()
    card = page.locator(f'[data-testid="bot-card"][data-slug="{bot.slug}"]')
    card.locator('[data-action="edit-bot"]').click()
    edit = card.get_by_test_id("bot-edit")
    edit.locator(f"#quiet-{bot.slug}").check()
    edit.locator(f"#quiet-start-{bot.slug}").fill(start)
    edit.locator(f"#quiet-end-{bot.slug}").fill(end)
    edit.get_by_role("button", name="Salvar").click()
    expect(card.locator(".facts")).to_contain_text(f"das {start} às {end}")

    page.get_by_role("link", name="Disparos").click()
    shot_id = create_shot(page, "Promoção da madrugada!")
    shot = shot_card(page, shot_id)
    note = shot.get_by_test_id("quiet-until")
    expect(note).to_have_text(f"Aguardando o fim do horário silencioso (até {end})")
    screenshot(page, "42-shot-quiet-hours")
    page.goto(f"{stack.base_url}/admin/#/shots/{shot_id}")
    expect(page.get_by_test_id("quiet-until")).to_have_text(
        f"Aguardando o fim do horário silencioso (até {end})"
    )
    stack.api("POST", f"/admin/api/shots/{shot_id}/cancel")
