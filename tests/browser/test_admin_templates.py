"""Templates on the admin page ("Modelos"): created, listed, edited and deleted; a shot started
from one (from_template) or saved as one, from the form and from its card; in English too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from admin_page import Stack, create_shot, open_admin, saved_shot_id, screenshot, shot_card
from personal_page import import_nameless, templates
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def card(page: Page, template_id: int) -> Any:
    """The card of one template on the list."""
    return page.locator(f'[data-testid="template-card"][data-template-id="{template_id}"]')


def test_a_template_is_created_listed_edited_and_deleted(page: Page, stack: Stack) -> None:
    """A template of every bot is saved from "Novo modelo" with the same editor and checks as a
    shot; the card shows its variables; editing narrows it to one bot; deleting asks first."""
    bot = stack.new_bot(10, name="Modelos")
    import_nameless(stack, bot.slug, [bot.bot.first_user_id + 900])
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Modelos").click()
    expect(page.get_by_role("heading", name="Modelos")).to_be_visible()
    page.get_by_test_id("new-template").click()

    form = page.get_by_test_id("template-form")
    page.locator("#template-name").fill("Boas-vindas")
    expect(page.get_by_test_id("template-bot")).to_have_value(bot.slug)
    page.get_by_test_id("template-bot").select_option("")
    page.locator("#copy").fill(
        "Olá {first_name}, <b>bem-vindo</b>! Seu cupom: {attr.cupom|BEMVINDO}"
    )
    missing = form.get_by_test_id("missing-first_name")
    expect(missing).to_have_attribute("data-count", "1")
    expect(form.get_by_test_id("personal-checks")).to_contain_text(
        f"Entre os contatos de /start de {bot.slug}:"
    )
    expect(form.locator("#accept_too_long")).to_have_count(0)  # templates never ask it
    form.get_by_text("Adicionar botão").click()
    form.locator(".button-row input").nth(0).fill("Ver ofertas")
    form.locator(".button-row input").nth(1).fill("https://loja.example/ofertas?c={attr.cupom|}")
    screenshot(page, "50-template-form")
    page.get_by_test_id("save-template").click()

    expect(page.locator(".toast").last).to_have_text("Modelo “Boas-vindas” salvo.")
    (saved,) = [t for t in templates(stack) if t["name"] == "Boas-vindas"]
    assert saved["bot_slug"] is None
    assert saved["buttons"] == [
        [{"text": "Ver ofertas", "url": "https://loja.example/ofertas?c={attr.cupom|}"}]
    ]
    assert sorted(saved["variables"]) == ["attr.cupom", "first_name"]
    item = card(page, saved["id"])
    expect(item.get_by_test_id("template-scope")).to_have_text("Todos os bots")
    expect(item.get_by_test_id("template-variable")).to_have_text(["{first_name}", "{attr.cupom}"])
    expect(item.locator(".template-copy strong")).to_have_text("bem-vindo")
    screenshot(page, "51-templates")

    item.locator('[data-action="edit"]').click()
    expect(page.locator("#template-name")).to_have_value("Boas-vindas")
    expect(page.get_by_test_id("template-bot")).to_have_value("")
    page.get_by_test_id("template-bot").select_option(bot.slug)
    page.locator("#copy").fill("Olá {first_name|amigo}, bem-vindo! {nome}")
    page.get_by_test_id("save-template").click()
    copy_field = page.locator('[data-field="copy"]')
    expect(copy_field.locator(".field-error")).to_contain_text("Variável desconhecida")
    expect(copy_field.locator(".field-error")).to_contain_text("unknown variable {nome}")
    page.locator("#copy").fill("Olá {first_name|amigo}, bem-vindo!")
    page.get_by_test_id("save-template").click()
    expect(card(page, saved["id"]).get_by_test_id("template-scope")).to_have_text(f"só {bot.slug}")
    stored = stack.api("GET", f"/admin/api/templates/{saved['id']}")
    assert (stored["bot_slug"], stored["copy"]) == (bot.slug, "Olá {first_name|amigo}, bem-vindo!")

    card(page, saved["id"]).locator('[data-action="delete"]').click()
    expect(page.locator("dialog")).to_contain_text("Os disparos criados com ele não mudam.")
    page.get_by_test_id("confirm-ok").click()
    expect(card(page, saved["id"])).to_have_count(0)
    assert all(t["id"] != saved["id"] for t in templates(stack))


def test_a_shot_starts_from_a_template_and_is_saved_as_one(page: Page, stack: Stack) -> None:
    """The form opened by "Usar modelo" is filled in and creates the shot with from_template; the
    form's picker fills it too; "Salvar como modelo" on the form and on a card stores the content
    for this bot or for every bot."""
    bot = stack.new_bot(8, name="Usar")
    made = stack.api(
        "POST",
        "/admin/api/templates",
        {
            "name": "PIX expirando",
            "bot_slug": bot.slug,
            "copy": "{first_name|Oi}, seu PIX expira <b>hoje</b>!",
            "buttons": [[{"text": "Pagar", "url": "https://loja.example/pix"}]],
        },
    )
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Modelos").click()
    card(page, made["id"]).locator('[data-action="use"]').click()
    expect(
        page.get_by_role("heading", name="Novo disparo · modelo “PIX expirando”")
    ).to_be_visible()
    expect(page.locator("#copy")).to_have_value("{first_name|Oi}, seu PIX expira <b>hoje</b>!")
    expect(page.locator(".button-row input").nth(0)).to_have_value("Pagar")
    with page.expect_request(
        lambda r: r.url.endswith("/admin/api/shots") and r.method == "POST"
    ) as sent:
        page.get_by_test_id("save-shot").click()
    assert json.loads(sent.value.post_data or "{}")["from_template"] == made["id"]
    shot_id = saved_shot_id(page)
    shot = stack.api("GET", f"/admin/api/shots/{shot_id}")
    assert shot["copy"] == made["copy"]
    assert shot["buttons"] == made["buttons"]

    page.get_by_test_id("new-shot").click()
    picker = page.get_by_test_id("template-picker")
    expect(picker.locator("option", has_text="PIX expirando")).to_have_count(1)
    picker.select_option(str(made["id"]))
    expect(page.locator("#copy")).to_have_value(made["copy"])
    page.locator("#copy").fill("Última chance, {first_name|amigo}: o desconto acaba à meia-noite.")
    page.get_by_test_id("save-as-template").click()
    dialog = page.get_by_test_id("save-template-dialog")
    dialog.get_by_test_id("prompt-ok").click()
    expect(dialog.locator(".field-error").first).to_have_text("Preencha este campo.")
    dialog.get_by_label("Nome do modelo").fill("Última chance")
    dialog.get_by_label("Disponível para todos os bots").check()
    screenshot(page, "52-save-as-template")
    dialog.get_by_test_id("prompt-ok").click()
    expect(dialog).to_have_count(0)
    (shared,) = [t for t in templates(stack) if t["name"] == "Última chance"]
    assert shared["bot_slug"] is None
    assert shared["buttons"] == made["buttons"]
    expect(page.get_by_test_id("shot-form")).to_be_visible()  # the form stays as it was

    page.get_by_role("link", name="← Disparos").click()
    create_shot(page, "Oi {first_name|amigo}! Chegou novidade.")
    expect(page.get_by_test_id("shot-card")).to_have_count(2)  # the first toast may linger
    later = stack.shots(bot.slug)[0]["id"]
    shot_card(page, later).locator('[data-action="save-template"]').click()
    dialog = page.get_by_test_id("save-template-dialog")
    dialog.get_by_label("Nome do modelo").fill("Novidade")
    dialog.get_by_test_id("prompt-ok").click()
    expect(page.locator(".toast").last).to_have_text("Modelo “Novidade” salvo.")
    (own,) = [t for t in templates(stack, bot.slug) if t["name"] == "Novidade"]
    assert (own["bot_slug"], own["copy"]) == (bot.slug, "Oi {first_name|amigo}! Chegou novidade.")


def test_templates_and_the_variable_warnings_in_english(page: Page, stack: Stack) -> None:
    """The templates screen, the picker and the warnings speak English when asked."""
    bot = stack.new_bot(6, name="English")
    import_nameless(stack, bot.slug, [bot.bot.first_user_id + 900, bot.bot.first_user_id + 901])
    stack.api(
        "POST",
        "/admin/api/templates",
        {"name": "Welcome", "bot_slug": bot.slug, "copy": "Hi {first_name|friend}!"},
    )
    open_admin(page, stack, bot.slug)
    page.locator('[data-lang="en"]').click()
    page.get_by_role("link", name="Templates").click()
    expect(page.get_by_role("heading", name="Templates")).to_be_visible()
    expect(page.locator('[data-testid="template-card"]', has_text="Welcome")).to_contain_text(
        f"{bot.slug} only"
    )
    page.locator('[data-testid="template-card"]', has_text="Welcome").locator(
        '[data-action="use"]'
    ).click()
    page.get_by_test_id("variables").click()
    expect(page.get_by_test_id("variables-panel")).to_contain_text(
        "{first_name|friend} becomes “friend”"
    )
    page.get_by_test_id("variables").click()
    page.locator("#copy").fill("Hi {first_name}! Your tags: {tags}")
    expect(page.get_by_test_id("missing-first_name")).to_contain_text(
        "2 contacts without first_name — use {first_name|friend}"
    )
    page.get_by_test_id("save-shot").click()
    expect(page.get_by_test_id("too-long-refused")).to_contain_text(
        "Shorten it or tick “Send anyway”"
    )
    screenshot(page, "53-templates-english")
