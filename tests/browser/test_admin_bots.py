"""Bot management on the admin page, and the bot selector that reloads everything."""

from __future__ import annotations

import pytest
from admin_page import Stack, open_admin, screenshot
from playwright.sync_api import Page, expect

from disparo.demo_seed import demo_token

pytestmark = pytest.mark.browser


def test_add_a_bot_by_token_then_edit_its_rate_and_time_zone(page: Page, stack: Stack) -> None:
    """A new token becomes a selected bot; a rate above 30 without paid broadcast is refused."""
    stack.new_bot(5, name="Existente")
    open_admin(page, stack)
    page.get_by_role("link", name="Bots").click()
    expect(page.get_by_role("heading", name="Bots", exact=True)).to_be_visible()

    form = page.locator("form.add-bot")
    form.locator("#bot-token").fill(demo_token(8_200_000_001, "novo"))
    form.get_by_test_id("add-bot").click()
    expect(form.locator('[data-field="slug"] .field-error')).to_have_text("Preencha este campo.")
    form.locator("#bot-slug").fill("loja-nova")
    form.locator("#bot-name").fill("Loja Nova")
    form.locator("#bot-tz").select_option("America/Recife")
    form.get_by_test_id("add-bot").click()

    card = page.locator('[data-testid="bot-card"][data-slug="loja-nova"]')
    expect(card).to_contain_text("Loja Nova")
    expect(card).to_contain_text("8200000001:****")
    expect(card).to_contain_text("America/Recife")
    expect(card.locator(".badge-current")).to_have_text("Selecionado")
    expect(page.locator("#bot-select")).to_have_value("loja-nova")
    assert stack.api("GET", "/admin/api/bots/loja-nova")["timezone"] == "America/Recife"

    card.locator('[data-action="edit-bot"]').click()
    edit = card.get_by_test_id("bot-edit")
    edit.locator("#rate-loja-nova").fill("100")
    edit.get_by_role("button", name="Salvar").click()
    rate_field = edit.locator('[data-field="rate_per_s"]')
    expect(rate_field.locator(".field-error")).to_contain_text("paid_broadcast")
    screenshot(page, "13-bot-rate-error")

    edit.locator("#rate-loja-nova").fill("12")
    edit.locator("#tz-loja-nova").select_option("America/Manaus")
    edit.get_by_role("button", name="Salvar").click()
    expect(card).to_contain_text("12/s")
    expect(card).to_contain_text("America/Manaus")
    stored = stack.api("GET", "/admin/api/bots/loja-nova")
    assert stored["rate_per_s"] == 12
    assert stored["timezone"] == "America/Manaus"
    screenshot(page, "14-bots")


def test_switching_bots_reloads_shots_and_metrics(page: Page, stack: Stack) -> None:
    """Each bot shows its own shots and metrics card; the selector switches all of it."""
    first = stack.new_bot(15, name="Primeiro")
    second = stack.new_bot(25, name="Segundo")
    stack.api(
        "POST",
        "/admin/api/shots",
        {"bot_slug": first.slug, "target": "started", "copy": "Só do primeiro bot",
         "scheduled_at": "2030-01-01T12:00:00Z"},
    )  # fmt: skip
    open_admin(page, stack, first.slug)
    expect(page.get_by_test_id("shot-list")).to_contain_text("Só do primeiro bot")
    expect(page.get_by_test_id("metric-total")).to_have_attribute("data-value", "15")

    page.select_option("#bot-select", second.slug)
    expect(page.locator(".page-sub")).to_have_text(second.bot.name)
    expect(page.get_by_test_id("metric-total")).to_have_attribute("data-value", "25")
    expect(page.get_by_test_id("shot-list")).to_contain_text("Nenhum disparo ainda")

    page.reload()  # the choice is remembered
    expect(page.locator("#bot-select")).to_have_value(second.slug)
    screenshot(page, "02-shots-empty")

    page.select_option("#bot-select", first.slug)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    expect(page.get_by_test_id("shot-list")).to_contain_text("Só do primeiro bot")
    expect(page.get_by_test_id("new-shot")).to_be_in_viewport()
    screenshot(page, "15-shots-on-a-phone")
