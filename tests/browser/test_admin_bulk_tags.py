"""The bulk tag on the segments screen: "Aplicar tag" and "Remover tag" change every contact a
segment's filter matches and say how many changed; a tag the API refuses is explained in the
dialog; in English too."""

from __future__ import annotations

import pytest
from admin_page import Stack, open_admin, screenshot
from audience_page import reachable, set_chat_state, tag_contacts
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _tag_counts(stack: Stack, slug: str) -> dict[str, int]:
    items = stack.api("GET", f"/admin/api/bots/{slug}/tags")["items"]
    return {item["tag"]: item["count"] for item in items}


def test_a_tag_is_applied_to_and_removed_from_a_segments_contacts(page: Page, stack: Stack) -> None:
    """Five VIPs (one of whom blocked the bot) get "quente": the card says 5 changed, a second
    run changes none, a refused tag is explained, and "Remover tag" takes it off the five."""
    bot = stack.new_bot(30, name="Etiquetas")
    vip = reachable(bot)[:5]
    tag_contacts(stack, bot.slug, vip, "vip")
    set_chat_state(stack, bot.slug, vip[4:], "blocked")
    tag_contacts(stack, bot.slug, reachable(bot)[10:12], "quente")  # outside the segment
    segment = stack.api(
        "POST", f"/admin/api/bots/{bot.slug}/segments", {"name": "VIPs", "filter": {"tag": "vip"}}
    )
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Segmentos").click()
    card = page.locator(f'[data-testid="segment-card"][data-segment-id="{segment["id"]}"]')
    result = card.get_by_test_id("tag-result")

    card.locator('[data-action="apply-tag"]').click()
    dialog = page.get_by_test_id("tag-dialog")
    expect(dialog).to_contain_text("inclusive contatos bloqueados e desativados")
    dialog.get_by_label("Tag").fill("Quente!")
    dialog.get_by_test_id("prompt-ok").click()
    expect(dialog.locator('[data-field="tag"] .field-error')).to_contain_text(
        "Use de 1 a 40 letras minúsculas sem acento, números, _ ou -."
    )
    expect(dialog.locator('[data-field="tag"] .field-error')).to_contain_text("is invalid")
    dialog.get_by_label("Tag").fill("quente")
    dialog.get_by_test_id("prompt-ok").click()
    expect(result).to_have_text("Tag “quente” aplicada a 5 contatos.")
    expect(result).to_have_attribute("data-changed", "5")
    assert _tag_counts(stack, bot.slug)["quente"] == 7
    screenshot(page, "54-bulk-tag")

    card.locator('[data-action="apply-tag"]').click()
    page.get_by_test_id("tag-dialog").get_by_label("Tag").fill("quente")
    page.get_by_test_id("tag-dialog").get_by_test_id("prompt-ok").click()
    expect(result).to_have_text("Tag “quente” aplicada a 0 contatos.")

    card.locator('[data-action="remove-tag"]').click()
    dialog = page.get_by_test_id("tag-dialog")
    expect(dialog.locator("datalist option[value=quente]")).to_have_count(1)
    dialog.get_by_label("Tag").fill("quente")
    dialog.get_by_test_id("prompt-ok").click()
    expect(result).to_have_text("Tag “quente” removida de 5 contatos.")
    assert _tag_counts(stack, bot.slug)["quente"] == 2

    page.locator('[data-lang="en"]').click()
    card.locator('[data-action="remove-tag"]').click()
    dialog = page.get_by_test_id("tag-dialog")
    expect(dialog).to_contain_text("Remove a tag from the contacts of “VIPs”")
    dialog.get_by_label("Tag").fill("vip")
    dialog.get_by_test_id("prompt-ok").click()
    expect(result).to_have_text("Tag “vip” removed from 5 contacts.")
    assert "vip" not in _tag_counts(stack, bot.slug)
