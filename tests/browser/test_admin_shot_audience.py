"""The shot form's audience and rules: narrowing by a filter, the estimate with who each rule
leaves out, the frequency cap and "mensagem de serviço", expiry and stop-on-conversion."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from admin_page import Stack, create_shot, open_admin, saved_shot_id, screenshot, shot_card
from audience_page import (
    announced_blocks,
    estimate,
    fill_row,
    reachable,
    set_chat_state,
    tag_contacts,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_a_filter_narrows_the_shot_and_the_estimate_says_who_is_left_out(
    page: Page, stack: Stack
) -> None:
    """Blocked, out of recency and filtered-out contacts are counted apart; the shot stores its
    filter and recency, shows "com filtro", and its edit form brings the rows back."""
    bot = stack.new_bot(40, name="Publico")
    vip = reachable(bot)[:7]
    tag_contacts(stack, bot.slug, vip, "vip")
    set_chat_state(stack, bot.slug, reachable(bot)[-2:], "blocked")
    set_chat_state(stack, bot.slug, reachable(bot)[-3:-2], "deactivated")
    audience = bot.audience - 3
    blocked = len(announced_blocks(bot)) + 2
    tomorrow = (datetime.now(ZoneInfo("America/Sao_Paulo")) + timedelta(days=1)).date()
    open_admin(page, stack, bot.slug)
    page.get_by_test_id("new-shot").click()

    count, excluded = page.get_by_test_id("estimate"), page.get_by_test_id("estimate-excluded")
    expect(count).to_have_attribute("data-count", str(audience))
    expect(excluded.get_by_test_id("excluded-blocked")).to_have_text(f"{blocked} bloqueados")
    expect(excluded.get_by_test_id("excluded-deactivated")).to_have_text("1 desativado")

    page.locator("#recency").check()
    page.locator("#recency_days").fill("1")
    recent = estimate(stack, bot.slug, recency_days=1)
    assert recent["excluded"]["recency"] > 0
    expect(count).to_have_attribute("data-count", str(recent["count"]))
    expect(excluded.get_by_test_id("excluded-recency")).to_have_text(
        f"{recent['excluded']['recency']} fora da recência"
    )
    page.locator("#recency").uncheck()

    page.locator('[data-group="narrowing"] [data-value="filter"]').click()
    builder = page.get_by_test_id("filter")
    fill_row(builder, 0, "tag", {"tag": "vip"})
    expect(count).to_have_attribute("data-count", "7")
    expect(count).to_have_text("≈ 7 contatos")
    expect(excluded).to_have_text(
        f"· excluídos: {blocked} bloqueados, 1 desativado, {audience - 7} pelo filtro"
    )
    screenshot(page, "36-shot-filter-estimate")

    fill_row(builder, 1, "interacted", {"within_days": "abc"})
    expect(count).to_have_text("complete o filtro para estimar")
    fill_row(builder, 1, "interacted", {"within_days": "30"}, negated=True)
    tree = {"all": [{"tag": "vip"}, {"not": {"interacted": {"within_days": 30}}}]}
    expect(count).to_have_attribute(
        "data-count", str(estimate(stack, bot.slug, filter=tree)["count"])
    )
    page.locator('[data-group="when"] [data-value="schedule"]').click()
    page.locator("#scheduled_at").fill(f"{tomorrow.isoformat()}T10:00")
    page.locator("#copy").fill("Só para os VIPs: bônus exclusivo.")
    page.get_by_test_id("save-shot").click()

    shot_id = saved_shot_id(page)
    card = shot_card(page, shot_id)
    expect(card.get_by_test_id("chip-filter")).to_have_text("com filtro")
    expect(card.get_by_test_id("chip-filter")).to_have_attribute(
        "title", "Tag é vip e não Interagiu nos últimos 30 dias"
    )
    stored = stack.api("GET", f"/admin/api/shots/{shot_id}")
    assert (stored["filter"], stored["segment_id"], stored["recency_days"]) == (tree, None, None)

    card.locator('[data-action="edit"]').click()
    builder = page.get_by_test_id("filter")
    expect(builder.locator(".filter-row")).to_have_count(2)
    expect(builder.locator('.filter-row[data-row="1"] [data-key="within_days"]')).to_have_value(
        "30"
    )
    builder.locator('.filter-row[data-row="1"] [data-action="remove-condition"]').click()
    page.get_by_test_id("save-shot").click()
    expect(card).to_contain_text("Só para os VIPs")
    assert stack.api("GET", f"/admin/api/shots/{shot_id}")["filter"] == {"all": [{"tag": "vip"}]}


def test_a_filter_error_from_the_api_lands_beside_its_row(page: Page, stack: Stack) -> None:
    """A language code the API refuses names row 2's node; the shot is not saved."""
    bot = stack.new_bot(8, name="Idioma")
    open_admin(page, stack, bot.slug)
    page.get_by_test_id("new-shot").click()
    page.locator('[data-group="narrowing"] [data-value="filter"]').click()
    builder = page.get_by_test_id("filter")
    fill_row(builder, 0, "started", {"within_days": "7"})
    row = fill_row(builder, 1, "total_paid", {"min_cents": "1.000.000.000.000,00"})
    page.locator("#copy").fill("Oi!")
    page.get_by_test_id("save-shot").click()
    expect(row.locator(".field-error")).to_contain_text("Confira esta condição.")
    expect(row.locator(".field-error")).to_contain_text("total_paid.min_cents: must be from 0 to")
    expect(row.locator('[data-key="min_cents"]')).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".form-summary")).to_have_text("Corrija os campos destacados.")
    assert stack.shots(bot.slug) == []


def test_frequency_cap_shows_in_the_estimate_and_a_service_message_ignores_it(
    page: Page, stack: Stack
) -> None:
    """With the bot capped at 1 shot a day, everyone a shot just reached is left out "pelo limite
    de frequência"; "mensagem de serviço" takes them back and is stored on the shot."""
    bot = stack.new_bot(20, name="Limite", rate_per_s=30)
    stack.api(
        "PATCH", f"/admin/api/bots/{bot.slug}", {"max_shots_per_contact": 1, "cap_window_hours": 24}
    )
    open_admin(page, stack, bot.slug)
    first = create_shot(page, "Primeiro disparo do dia.")
    expect(shot_card(page, first)).to_have_attribute("data-status", "sent", timeout=30_000)
    sent = stack.api("GET", f"/admin/api/shots/{first}")["stats"]["sent"]
    assert sent > 0

    page.get_by_test_id("new-shot").click()
    excluded = page.get_by_test_id("estimate-excluded")
    expect(excluded.get_by_test_id("excluded-frequency_cap")).to_have_text(
        f"{sent} pelo limite de frequência"
    )
    capped = estimate(stack, bot.slug)
    expect(page.get_by_test_id("estimate")).to_have_attribute("data-count", str(capped["count"]))
    expect(page.locator('[data-field="ignore_frequency_cap"]')).to_contain_text(
        "no máximo 1 disparo a cada 24 h por contato"
    )
    screenshot(page, "37-shot-frequency-cap")

    page.locator("#ignore_frequency_cap").check()
    expect(excluded.get_by_test_id("excluded-frequency_cap")).to_have_count(0)
    expect(page.get_by_test_id("estimate")).to_have_attribute(
        "data-count", str(capped["count"] + sent)
    )
    page.locator("#copy").fill("Aviso: manutenção hoje às 23h.")
    page.get_by_test_id("save-shot").click()
    expect(page.get_by_test_id("shot-card")).to_have_count(2)  # the first toast may linger
    second = stack.shots(bot.slug)[0]["id"]
    expect(shot_card(page, second).get_by_test_id("chip-service")).to_have_text(
        "mensagem de serviço"
    )
    assert stack.api("GET", f"/admin/api/shots/{second}")["ignore_frequency_cap"] is True


def test_expiry_and_stop_on_conversion_in_the_bots_time_zone(page: Page, stack: Stack) -> None:
    """The expiry is a time of the bot's zone (Manaus here), refused before the schedule; stop on
    payment is kept; both come back in the edit form and show on the card."""
    bot = stack.new_bot(10, name="Expira", timezone="America/Manaus")
    zone = ZoneInfo("America/Manaus")
    day = (datetime.now(zone) + timedelta(days=2)).date()
    open_admin(page, stack, bot.slug)
    page.get_by_test_id("new-shot").click()
    page.locator('[data-group="when"] [data-value="schedule"]').click()
    page.locator("#scheduled_at").fill(f"{day.isoformat()}T09:30")
    page.locator("#expires").check()
    page.locator("#expires_at").fill(f"{day.isoformat()}T08:00")
    expect(page.locator('[data-field="expires_at"]')).to_contain_text("America/Manaus (UTC−04:00)")
    page.locator('[data-group="stop_on"] [data-value="paid"]').click()
    page.locator("#copy").fill("Seu bônus vale até as 21h.")
    page.get_by_test_id("save-shot").click()
    expiry_field = page.locator('[data-field="expires_at"]')
    expect(expiry_field.locator(".field-error")).to_contain_text(
        "Confira a data e a hora da expiração."
    )
    expect(expiry_field.locator(".field-error")).to_contain_text("later than scheduled_at")
    screenshot(page, "38-shot-rules-error")

    page.locator("#expires_at").fill(f"{day.isoformat()}T21:00")
    page.get_by_test_id("save-shot").click()
    shot_id = saved_shot_id(page)
    stored = stack.api("GET", f"/admin/api/shots/{shot_id}")
    expires = datetime.fromisoformat(stored["expires_at"]).astimezone(zone)
    assert (expires.date(), expires.hour, expires.minute) == (day, 21, 0)
    assert stored["stop_on"] == "paid"
    card = shot_card(page, shot_id)
    expect(card.get_by_test_id("chip-expires")).to_have_text(f"expira {day:%d/%m/%Y}, 21:00")
    expect(card.get_by_test_id("chip-stop-on")).to_have_text("para ao pagar")
    screenshot(page, "39-shot-rules-card")

    card.locator('[data-action="edit"]').click()
    expect(page.locator("#expires")).to_be_checked()
    expect(page.locator("#expires_at")).to_have_value(f"{day.isoformat()}T21:00")
    expect(page.locator('[data-group="stop_on"] [data-value="paid"]')).to_have_attribute(
        "aria-checked", "true"
    )
    page.locator("#expires").uncheck()
    page.locator('[data-group="stop_on"] [data-value="none"]').click()
    page.get_by_test_id("save-shot").click()
    expect(card).to_be_visible()  # back on the list: the edit was saved
    expect(card.get_by_test_id("chip-expires")).to_have_count(0)
    expect(card.get_by_test_id("chip-stop-on")).to_have_count(0)
    stored = stack.api("GET", f"/admin/api/shots/{shot_id}")
    assert (stored["expires_at"], stored["stop_on"]) == (None, None)
