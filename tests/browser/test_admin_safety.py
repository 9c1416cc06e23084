"""User text is never code, and the server's validation errors land beside their fields."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from admin_page import Stack, open_admin, screenshot, shot_card
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
# The same text written the way Telegram shows tags as text: valid HTML that reads as markup.
ESCAPED = (
    "&lt;script&gt;window.__pwned = 1&lt;/script&gt;"
    "&lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt; <b>oferta</b>"
)


def test_copy_with_script_and_img_tags_is_shown_as_text_and_never_runs(
    page: Page, stack: Stack
) -> None:
    """Preview and card show <script> and <img onerror> as inert text; nothing executes."""
    bot = stack.new_bot(10, name="Seguro")
    tomorrow = (datetime.now(ZoneInfo("America/Sao_Paulo")) + timedelta(days=1)).date()
    open_admin(page, stack, bot.slug)
    page.get_by_test_id("new-shot").click()
    expect(page.get_by_test_id("estimate")).to_have_attribute("data-count", str(bot.audience))

    page.locator("#copy").fill(HOSTILE)
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("<script>window.__pwned = 1</script>")
    expect(preview).to_contain_text('<img src=x onerror="window.__pwned = 2">')
    assert preview.locator("script, img").count() == 0
    expect(page.get_by_test_id("preview-problems")).to_contain_text("tag não suportada <script>")
    screenshot(page, "11-hostile-copy-preview")

    page.locator('[data-group="when"] [data-value="schedule"]').click()
    page.locator("#scheduled_at").fill(f"{tomorrow.isoformat()}T10:00")
    page.get_by_test_id("save-shot").click()  # Telegram would refuse these tags: so does Disparo
    copy_error = page.locator('[data-field="copy"] .field-error')
    expect(copy_error).to_contain_text("not valid Telegram HTML")
    assert stack.shots(bot.slug) == []

    page.locator("#copy").fill(ESCAPED)
    page.get_by_test_id("save-shot").click()
    expect(page.get_by_test_id("shot-list")).to_be_visible()
    card = shot_card(page, stack.shots(bot.slug)[0]["id"])
    expect(card).to_contain_text('<script>window.__pwned = 1</script><img src=x onerror="window')
    expect(card.locator("strong")).to_have_text("oferta")
    assert card.locator("script, img").count() == 0

    page.reload()  # the list drawn from the stored copy, not from what was typed
    expect(card).to_contain_text("<script>window.__pwned = 1</script>")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#app script, #app img").count() == 0


def test_server_validation_errors_appear_beside_their_fields(page: Page, stack: Stack) -> None:
    """A media URL the API refuses is explained under that field, and nothing is created."""
    bot = stack.new_bot(10, name="Validacao")
    open_admin(page, stack, bot.slug)
    page.get_by_test_id("new-shot").click()
    page.locator('[data-group="media_type"] [data-value="photo"]').click()
    page.locator("#media_url").fill("ftp://exemplo.com/promo.jpg")
    page.locator("#copy").fill("x" * 1030)
    counter = page.get_by_test_id("counter")
    expect(counter).to_have_text("1.030 / 1.024 · legenda")
    expect(counter).to_have_class("counter counter-over")
    page.locator("#copy").fill("<b>Promo</b> de fim de semana")
    expect(counter).to_have_text("22 / 1.024 · legenda")
    page.get_by_test_id("save-shot").click()

    media_field = page.locator('[data-field="media_url"]')
    expect(media_field).to_have_class("field has-error")
    expect(media_field.locator(".field-error")).to_contain_text("http")
    expect(media_field.locator("input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-field="copy"] .field-error')).to_have_text("")
    expect(page.locator(".form-summary")).to_have_text("Corrija os campos destacados.")
    screenshot(page, "12-validation-error")
    assert stack.shots(bot.slug) == []

    page.locator("#media_url").fill("https://exemplo.com/promo.jpg")
    page.get_by_role("button", name="Adicionar botão").click()
    page.get_by_label("Texto do botão").fill("Quero o desconto")
    page.get_by_label("Link do botão").fill("https://exemplo.com/checkout")
    expect(page.get_by_test_id("preview").locator(".tg-button")).to_have_text("Quero o desconto")
    page.get_by_test_id("save-shot").click()
    expect(page.get_by_test_id("shot-list")).to_be_visible()
    stored = stack.shots(bot.slug)[0]
    assert stored["media_url"] == "https://exemplo.com/promo.jpg"
    assert stored["media_type"] == "photo"
    assert stored["buttons"] == [
        [{"text": "Quero o desconto", "url": "https://exemplo.com/checkout"}]
    ]
