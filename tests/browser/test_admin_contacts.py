"""The Contatos screens: the table in keyset pages, search, "who is in this segment", one
contact's story with each shot's outcome (why a contact did not get it), tags edited there,
deleting one contact and deleting by a segment's filter with the count first, the bot deleted
only once its slug is typed; in English too."""

from __future__ import annotations

import time

import pytest
from admin_page import SeededBot, Stack, open_admin, screenshot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def sent_shot(stack: Stack, bot: SeededBot) -> int:
    """A /start shot of `bot`, sent to the end."""
    shot = stack.api(
        "POST",
        "/admin/api/shots",
        {"bot_slug": bot.slug, "target": "started"} | {"copy": "Oferta de hoje"},
    )
    deadline = time.monotonic() + 60
    while stack.api("GET", f"/admin/api/shots/{shot['id']}")["status"] != "sent":
        assert time.monotonic() < deadline, "the shot was not sent in 60 s"
        time.sleep(0.2)
    return int(shot["id"])


def test_contacts_table_story_and_deletes(page: Page, stack: Stack) -> None:
    """Pages of 50 with next and back; search; a segment's members; a skipped contact's story
    says why; deleting by filter shows the count before confirming; one contact deleted."""
    bot = stack.new_bot(70, name="Contatos")
    shot_id = sent_shot(stack, bot)
    base = f"/admin/api/bots/{bot.slug}"
    page_one = stack.api("GET", f"{base}/contacts:browse?limit=70")["items"]
    skipped = next(
        d["telegram_id"]
        for d in stack.api("GET", f"/admin/api/shots/{shot_id}/deliveries?status=skipped")["items"]
    )
    # Two members of the segment deleted below; never the skipped contact whose story is read.
    vip = [c["telegram_id"] for c in page_one if c["telegram_id"] != skipped][:2]
    for telegram_id in vip:
        stack.api("PATCH", f"{base}/contacts/{telegram_id}", {"add_tags": ["vip"]})
    segment = stack.api("POST", f"{base}/segments", {"name": "VIPs", "filter": {"tag": "vip"}})

    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Contatos").click()
    table = page.get_by_test_id("contacts-table")
    expect(table.get_by_test_id("contact-row")).to_have_count(50)
    screenshot(page, "79-contacts-table")
    page.get_by_test_id("contacts-next").click()
    expect(page.get_by_test_id("contacts-page")).to_have_text("Página 2")
    expect(table.get_by_test_id("contact-row")).to_have_count(len(page_one) - 50)
    page.get_by_test_id("contacts-prev").click()
    expect(table.get_by_test_id("contact-row")).to_have_count(50)

    someone = page_one[5]
    page.locator("#contacts-search").fill(str(someone["telegram_id"]))
    expect(table.get_by_test_id("contact-row")).to_have_count(1)
    page.locator("#contacts-search").fill("")
    page.select_option("#contacts-segment", str(segment["id"]))
    expect(table.get_by_test_id("contact-row")).to_have_count(2)
    screenshot(page, "80-contacts-segment")

    page.get_by_test_id("contacts-delete-matching").click()
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("Apagar 2 contatos?")
    screenshot(page, "81-contacts-delete-count")
    dialog.get_by_role("button", name="Apagar 2 contatos").click()
    expect(page.locator(".toast", has_text="2 contatos apagados.")).to_be_visible()
    expect(table.get_by_test_id("contact-row")).to_have_count(0)

    page.goto(f"{stack.base_url}/admin/#/contacts/{skipped}")
    shots = page.get_by_test_id("contact-shots")
    expect(shots.get_by_test_id("contact-shot")).to_have_attribute("data-status", "skipped")
    expect(shots).to_contain_text("Pulado")
    expect(shots).to_contain_text("Oferta de hoje")
    page.locator("#contact-tag").fill("sumiu")
    page.locator(".contact-tag-form button").click()
    expect(page.get_by_test_id("contact-tags")).to_contain_text("sumiu")
    screenshot(page, "82-contact-story")

    page.get_by_test_id("contact-delete").click()
    page.locator("dialog").get_by_role("button", name="Apagar contato").click()
    expect(page.get_by_test_id("contacts-table")).to_be_visible()
    assert all(
        c["telegram_id"] != skipped
        for c in stack.api("GET", f"{base}/contacts:browse?limit=200")["items"]
    )

    page.get_by_role("button", name="EN").click()
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
    expect(table.get_by_test_id("contact-row").first).to_be_visible()
    screenshot(page, "83-contacts-english")
    page.get_by_role("button", name="PT").click()


def test_deleting_a_bot_asks_for_its_slug(page: Page, stack: Stack) -> None:
    """The bot is deleted only once the operator typed its slug exactly."""
    bot = stack.new_bot(2, name="Apagar")
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Bots").click()
    card = page.locator(".card", has_text=bot.slug).filter(
        has=page.get_by_role("button", name="Excluir")
    )
    card.get_by_role("button", name="Excluir").first.click()
    dialog = page.get_by_test_id("bot-delete-dialog")
    dialog.locator("input").fill("outro")
    dialog.get_by_test_id("prompt-ok").click()
    expect(dialog).to_contain_text(f"Digite exatamente {bot.slug}.")
    screenshot(page, "84-bot-delete-typed")
    assert stack.api("GET", f"/admin/api/bots/{bot.slug}")["slug"] == bot.slug
    dialog.locator("input").fill(bot.slug)
    dialog.get_by_test_id("prompt-ok").click()
    expect(page.locator(".toast", has_text=bot.slug)).to_be_visible()
    slugs = [b["slug"] for b in stack.api("GET", "/admin/api/bots")["items"]]
    assert bot.slug not in slugs
