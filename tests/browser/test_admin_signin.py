"""Signing in, the token's life in the tab, and the language switch."""

from __future__ import annotations

import pytest
from admin_page import Stack, open_admin, screenshot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_sign_in_refuses_a_wrong_token_and_keeps_a_good_one_for_the_tab(
    page: Page, stack: Stack
) -> None:
    """A wrong token is refused beside the field; the right one opens the shots view."""
    stack.new_bot(12, name="Entrada")
    response = page.goto(f"{stack.base_url}/admin")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", name="Entrar no painel")).to_be_visible()
    screenshot(page, "01-sign-in")

    page.fill("#token", "not-the-admin-token-at-all")
    page.get_by_role("button", name="Entrar").click()
    expect(page.locator("#signin-error")).to_have_text(
        "Token inválido. Confira o valor de DISPARO_ADMIN_TOKEN."
    )

    page.fill("#token", stack.token)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("heading", name="Disparos")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('disparo.token')") == stack.token

    page.reload()  # kept for the tab
    expect(page.get_by_role("heading", name="Disparos")).to_be_visible()

    page.get_by_test_id("signout").click()
    expect(page.get_by_role("heading", name="Entrar no painel")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('disparo.token')") is None


def test_language_switch_translates_the_page_and_is_remembered(page: Page, stack: Stack) -> None:
    """EN turns every label to English, survives a reload, and PT brings Portuguese back."""
    bot = stack.new_bot(12, name="Idioma")
    open_admin(page, stack, bot.slug)
    expect(page.get_by_test_id("new-shot")).to_have_text("+Novo disparo")
    expect(page.get_by_test_id("metric-active")).to_contain_text("Ativos")

    page.locator('.topbar [data-lang="en"]').click()
    expect(page.get_by_role("heading", name="Shots", exact=True)).to_be_visible()
    expect(page.get_by_test_id("new-shot")).to_have_text("+New shot")
    expect(page.get_by_test_id("metric-blocked")).to_contain_text("Blocked")
    assert page.evaluate("document.documentElement.lang") == "en"

    page.get_by_test_id("new-shot").click()
    expect(page.get_by_text("Audience", exact=True)).to_be_visible()
    expect(page.locator('[data-group="when"] [data-value="now"]')).to_have_text("Now")
    expect(page.locator('[data-group="when"] [data-value="schedule"]')).to_have_text("Schedule")
    screenshot(page, "09-new-shot-english")

    page.reload()
    expect(page.get_by_test_id("save-shot")).to_have_text("Create shot")

    page.locator('.topbar [data-lang="pt-BR"]').click()
    expect(page.get_by_test_id("save-shot")).to_have_text("Criar disparo")
    expect(page.locator('[data-group="when"] [data-value="schedule"]')).to_have_text("Programar")
    assert page.evaluate("document.documentElement.lang") == "pt-BR"
