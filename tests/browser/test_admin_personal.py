"""Personal variables in the shot form: the picker, the warnings about missing values and the
length, "Enviar mesmo assim", and the previews of what contacts receive."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from admin_page import Stack, open_admin, saved_shot_id, screenshot, shot_card
from audience_page import estimate, reachable
from personal_page import (
    import_nameless,
    open_new_shot,
    preview,
    put_cursor,
    selected_text,
    set_attributes,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_the_picker_inserts_a_variable_at_the_cursor_and_asks_an_attribute_key(
    page: Page, stack: Stack
) -> None:
    """{first_name|amigo} lands where the caret was with "amigo" selected to be typed over; an
    attribute asks its key, refuses a bad one and inserts {attr.plano}."""
    bot = stack.new_bot(6, name="Picker")
    open_admin(page, stack, bot.slug)
    copy = open_new_shot(page)
    copy.fill("Oi , seu bônus chegou.")
    put_cursor(copy, 3)

    page.get_by_test_id("variables").click()
    panel = page.get_by_test_id("variables-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("{first_name|amigo} vira “amigo”")
    screenshot(page, "46-variable-picker")
    panel.locator('[data-variable="first_name"]').click()
    expect(panel).to_be_hidden()
    expect(copy).to_have_value("Oi {first_name|amigo}, seu bônus chegou.")
    assert selected_text(copy) == "amigo"
    page.keyboard.type("cliente")
    expect(copy).to_have_value("Oi {first_name|cliente}, seu bônus chegou.")

    put_cursor(copy, len("Oi {first_name|cliente}, seu bônus chegou."))
    page.keyboard.type(" Plano: ")
    page.get_by_test_id("variables").click()
    panel.locator('[data-variable="attr"]').click()
    key = page.get_by_test_id("attr-key")
    key.fill("plano anual")
    panel.locator('[data-action="insert-attr"]').click()
    expect(panel.locator(".var-error")).to_have_text(
        "Use de 1 a 40 letras sem acento, números ou _."
    )
    key.fill("plano")
    key.press("Enter")
    expect(copy).to_have_value("Oi {first_name|cliente}, seu bônus chegou. Plano: {attr.plano}")
    expect(page.get_by_test_id("shot-form")).to_be_visible()  # Enter did not submit the form
    assert stack.shots(bot.slug) == []

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the panel fits the screen
    page.get_by_test_id("variables").click()
    box = panel.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "55-variable-picker-on-a-phone")


def test_warnings_count_who_lacks_a_value_and_a_fallback_clears_them(
    page: Page, stack: Stack
) -> None:
    """Three contacts without a name make "3 contatos sem first_name — use {first_name|amigo}";
    "Aplicar" writes the fallback and the warning gives way; an unknown variable is named."""
    bot = stack.new_bot(12, name="Avisos")
    nameless = [bot.bot.first_user_id + 900 + i for i in range(3)]
    import_nameless(stack, bot.slug, nameless)
    open_admin(page, stack, bot.slug)
    copy = open_new_shot(page)

    copy.fill("Oi {first_name}, seu bônus de boas-vindas chegou!")
    missing = page.get_by_test_id("missing-first_name")
    expect(missing).to_have_attribute("data-count", "3")
    expect(missing).to_contain_text("3 contatos sem first_name — use {first_name|amigo}")
    api = estimate(stack, bot.slug, copy="Oi {first_name}!")
    assert api["missing"] == {"first_name": 3}
    screenshot(page, "47-variable-warnings")

    missing.locator('[data-action="use-fallback"]').click()
    expect(copy).to_have_value("Oi {first_name|amigo}, seu bônus de boas-vindas chegou!")
    expect(missing).to_have_count(0)
    everyone = page.get_by_test_id("estimate").get_attribute("data-count")
    expect(page.get_by_test_id("personal-ok")).to_have_text(
        f"Os {everyone} contatos do público têm todos os dados usados."
    )

    copy.fill("Oi {frist_name}!")
    error = page.get_by_test_id("variable-error")
    expect(error).to_contain_text("Variável desconhecida")
    expect(error).to_contain_text("unknown variable {frist_name}")
    page.get_by_test_id("save-shot").click()
    copy_field = page.locator('[data-field="copy"]')
    expect(copy_field.locator(".field-error")).to_contain_text("Variável desconhecida")
    expect(page.locator("#copy")).to_have_attribute("aria-invalid", "true")
    assert stack.shots(bot.slug) == []


def test_a_copy_that_values_could_make_too_long_goes_only_when_accepted(
    page: Page, stack: Stack
) -> None:
    """A contact's 1,000-character plan pushes one copy past 4096: the warning counts it, the
    API refuses the shot until "Enviar mesmo assim" is ticked, and the contact's preview says
    "passa do limite"."""
    bot = stack.new_bot(8, name="Longa")
    tomorrow = (datetime.now(ZoneInfo("America/Sao_Paulo")) + timedelta(days=1)).date()
    long_one = reachable(bot)[0]
    set_attributes(stack, bot.slug, long_one, plano="x" * 1000)
    text = "Oferta. " * 400 + "Seu plano: {attr.plano}"
    open_admin(page, stack, bot.slug)
    copy = open_new_shot(page)
    copy.fill(text)
    risk = page.get_by_test_id("too-long-risk")
    expect(risk).to_have_attribute("data-count", "1")
    expect(risk).to_contain_text("≈ 1 mensagem passaria do limite de 4.096 caracteres")

    page.get_by_test_id("contact-search").fill(str(long_one))
    page.locator(f'.contact-result[data-telegram-id="{long_one}"]').click()
    chosen = page.get_by_test_id("contact-chosen")
    expect(chosen.get_by_test_id("too-long")).to_have_text("passa do limite")
    rendered = preview(stack, bot.slug, text, telegram_id=long_one)["items"][0]
    assert rendered["too_long"]
    assert rendered["length"] == 3200 + len("Seu plano: ") + 1000
    expect(chosen.get_by_test_id("length")).to_have_text("4.211 / 4.096")

    page.get_by_test_id("save-shot").click()
    refused = page.get_by_test_id("too-long-refused")
    expect(refused).to_contain_text("tags e atributos não têm tamanho máximo")
    expect(refused).to_contain_text("accept_too_long")
    expect(page.locator(".form-summary")).to_have_text(
        "A mensagem pode ficar longa demais para alguns contatos: confira abaixo da mensagem."
    )
    accept = page.locator("#accept_too_long")
    expect(accept).to_be_focused()
    assert stack.shots(bot.slug) == []
    screenshot(page, "48-too-long-refused")

    accept.check()
    page.locator('[data-group="when"] [data-value="schedule"]').click()
    page.locator("#scheduled_at").fill(f"{tomorrow.isoformat()}T10:00")
    page.get_by_test_id("save-shot").click()
    shot_id = saved_shot_id(page)
    assert stack.api("GET", f"/admin/api/shots/{shot_id}")["copy"] == text

    # {attr.…} has no bounded length, so the stored shot was accepted: editing keeps it so.
    shot_card(page, shot_id).locator('[data-action="edit"]').click()
    expect(page.locator("#accept_too_long")).to_be_checked()
    page.locator("#copy").fill("Oferta curta. Seu plano: {attr.plano}")
    page.get_by_test_id("save-shot").click()
    expect(shot_card(page, shot_id)).to_contain_text("Oferta curta.")
    assert stack.api("GET", f"/admin/api/shots/{shot_id}")["copy"].startswith("Oferta curta.")


def test_the_preview_shows_what_a_chosen_contact_and_the_first_contacts_receive(
    page: Page, stack: Stack
) -> None:
    """A contact found by name gets their own copy in the Telegram preview, with what they lack;
    the audience's first contacts are listed as the API renders them; "Ver como escrita" goes
    back to the copy as written."""
    bot = stack.new_bot(12, name="Previa")
    ids = set(reachable(bot))
    user = next(u for u in bot.users if u.id in ids and u.username)
    bare = next(u for u in bot.users if u.id in ids and not u.username)
    text = "Oi {first_name|amigo}! Seu usuário: @{username}"
    open_admin(page, stack, bot.slug)
    copy = open_new_shot(page)
    copy.fill(text)

    search = page.get_by_test_id("contact-search")
    search.fill(user.username[:-1])
    result = page.locator(f'.contact-result[data-telegram-id="{user.id}"]')
    expect(result).to_contain_text(f"{user.first_name} {user.last_name} · @{user.username}")
    result.click()
    bubble = page.get_by_test_id("preview")
    expect(bubble).to_have_attribute("data-contact", str(user.id))
    expect(bubble).to_have_text(f"Oi {user.first_name}! Seu usuário: @{user.username}")
    chosen = page.get_by_test_id("contact-chosen")
    expect(chosen).to_contain_text(f"Como {user.first_name} {user.last_name} recebe")
    expect(chosen.get_by_test_id("missing")).to_have_count(0)

    copy.fill(text + " <b>Até hoje.</b>")
    expect(bubble).to_contain_text("Até hoje.")
    expect(bubble.locator("strong")).to_have_text("Até hoje.")

    sample = page.get_by_test_id("audience-sample")
    api = preview(stack, bot.slug, text + " <b>Até hoje.</b>", limit=5)
    expect(sample.locator(".sample-item")).to_have_count(len(api["items"]))
    for index, item in enumerate(api["items"]):
        row = sample.locator(".sample-item").nth(index)
        expect(row).to_have_attribute("data-telegram-id", str(item["telegram_id"]))
        expect(row.locator(".sample-text")).to_have_text(
            item["copy"].replace("<b>", "").replace("</b>", "")
        )
        expect(row.get_by_test_id("missing")).to_have_count(len(item["missing"]))
    screenshot(page, "49-contact-preview")

    search.fill(str(bare.id))
    page.locator(f'.contact-result[data-telegram-id="{bare.id}"]').click()
    expect(bubble).to_have_attribute("data-contact", str(bare.id))
    expect(chosen.get_by_test_id("missing")).to_have_text("sem username")
    chosen.locator('[data-action="clear-contact"]').click()
    expect(bubble).to_have_attribute("data-contact", "")
    expect(bubble).to_contain_text("Oi {first_name|amigo}! Seu usuário: @{username}")
