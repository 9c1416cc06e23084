"""Bot management on the admin page, and the bot selector that reloads everything."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from contextlib import closing

import pytest
from admin_page import SeededBot, Stack, open_admin, screenshot
from playwright.sync_api import Page, expect

from disparo.demo.seed import demo_token

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


def _webhook_secret(stack: Stack, slug: str) -> str:
    """The bot's stored webhook secret (this stack runs without DISPARO_SECRET_KEY: plain)."""
    with closing(sqlite3.connect(stack.database)) as conn:
        (secret,) = conn.execute(
            "SELECT webhook_secret FROM bots WHERE slug = ?", (slug,)
        ).fetchone()
    return str(secret)


def _webhook_status(stack: Stack, slug: str, secret: str) -> int:
    """The status of an update POSTed to the bot's webhook with `secret`."""
    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}}
    request = urllib.request.Request(
        f"{stack.base_url}/telegram/{slug}/webhook",
        data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def _user_starts(stack: Stack, bot: SeededBot, user_id: int) -> None:
    """A new simulated user presses /start; wait until the bot's contacts count them."""
    total = stack.metrics(bot.slug)["total"]
    for path, body in (("users", [{"id": user_id, "first_name": "Nova"}]),
                       ("updates", {"start": [user_id]})):  # fmt: skip
        request = urllib.request.Request(
            f"{stack.sim_url}/sim/bots/{bot.bot.token}/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()
    deadline = time.monotonic() + 10
    while stack.metrics(bot.slug)["total"] != total + 1:
        assert time.monotonic() < deadline, "the /start never reached the webhook"
        time.sleep(0.05)


def test_rotating_the_webhook_secret_asks_first_then_re_registers(page: Page, stack: Stack) -> None:
    """The button asks before acting (cancel changes nothing); confirmed, the secret is new, the
    old one is refused, and Telegram's updates still arrive (it has the new one); in English
    too."""
    bot = stack.new_bot(3, name="Segredo")
    first = _webhook_secret(stack, bot.slug)
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Bots").click()
    card = page.locator(f'[data-testid="bot-card"][data-slug="{bot.slug}"]')
    rotate = card.locator('[data-action="rotate-secret"]')
    expect(rotate).to_have_text("Trocar segredo do webhook")

    rotate.click()
    dialog = page.locator("dialog.dialog")
    expect(dialog).to_contain_text(f"Trocar o segredo do webhook de {bot.slug}?")
    expect(dialog).to_contain_text("Chamadas com o segredo antigo passam a ser recusadas.")
    screenshot(page, "16-rotate-webhook-secret")
    dialog.get_by_role("button", name="Cancelar").click()
    expect(dialog).to_have_count(0)
    assert _webhook_secret(stack, bot.slug) == first

    rotate.click()
    expect(page.get_by_test_id("confirm-ok")).to_have_text("Trocar segredo")
    page.get_by_test_id("confirm-ok").click()
    expect(page.locator(".toast").last).to_have_text(
        f"Segredo do webhook de {bot.slug} trocado; webhook registrado de novo no Telegram."
    )
    second = _webhook_secret(stack, bot.slug)
    assert second != first
    assert _webhook_status(stack, bot.slug, first) == 403
    _user_starts(stack, bot, bot.bot.first_user_id + 900)

    page.locator('.topbar [data-lang="en"]').click()
    expect(rotate).to_have_text("Rotate webhook secret")
    rotate.click()
    expect(dialog).to_contain_text(f"Rotate the webhook secret of {bot.slug}?")
    expect(dialog).to_contain_text("Calls with the old secret are refused from then on.")
    expect(page.get_by_test_id("confirm-ok")).to_have_text("Rotate secret")
    screenshot(page, "17-rotate-webhook-secret-english")
    page.get_by_test_id("confirm-ok").click()
    expect(page.locator(".toast").last).to_have_text(
        f"Webhook secret of {bot.slug} rotated; the webhook was registered with Telegram again."
    )
    assert _webhook_secret(stack, bot.slug) not in (first, second)
    assert _webhook_status(stack, bot.slug, second) == 403
    _user_starts(stack, bot, bot.bot.first_user_id + 901)
