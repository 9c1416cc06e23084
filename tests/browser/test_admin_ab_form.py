"""The shot form's A/B test and conversions: variants as tabs with the whole editor each, the
holdout, conversion events and winner mode, stored as typed; the API's errors beside the
variant's or the event's field; editing a pending shot's variants; both languages."""

from __future__ import annotations

import pytest
from ab_page import (
    conversion_row,
    create_ab_shot,
    open_variants,
    tomorrow_at,
    variant_field,
    variant_tab,
)
from admin_page import Stack, open_admin, saved_shot_id, screenshot, shot_card
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_two_variants_a_holdout_and_two_conversion_events_are_stored_as_typed(
    page: Page, stack: Stack
) -> None:
    """The single message becomes variant A, B gets its own copy, media and button; weights 2:3,
    10 % held out, paid in 72 h then a PIX in 24 h: exactly that comes back from the API."""
    bot = stack.new_bot(12, name="Variantes")
    open_admin(page, stack, bot.slug)
    page.get_by_test_id("new-shot").click()
    section = page.get_by_test_id("ab-section")
    expect(section.locator("legend")).to_have_text("Teste A/B e conversões")
    page.locator('[data-group="when"] [data-value="schedule"]').click()
    page.locator("#scheduled_at").fill(tomorrow_at("10:00"))
    page.locator("#copy").fill("<b>Oferta A</b>: 10% de desconto hoje.")

    open_variants(page)
    expect(variant_tab(page, 0)).to_contain_text("A")
    expect(variant_tab(page, 1)).to_contain_text("B")
    expect(variant_field(page, 0, "copy")).to_have_value("<b>Oferta A</b>: 10% de desconto hoje.")
    variant_field(page, 0, "weight").fill("2")
    variant_tab(page, 1).click()
    variant_field(page, 1, "weight").fill("3")
    expect(variant_tab(page, 0)).to_contain_text("40%")
    expect(variant_tab(page, 1)).to_contain_text("60%")
    panel = page.locator('.variant-panel[data-variant="1"]')
    panel.locator('[data-group="variants[1].media_type"] [data-value="photo"]').click()
    variant_field(page, 1, "media_url").fill("https://example.com/b.jpg")
    variant_field(page, 1, "copy").fill("<i>Oferta B</i>: frete grátis, {first_name|amigo}!")
    expect(panel.get_by_test_id("counter")).to_contain_text("/ 1.024 · legenda")
    panel.get_by_role("button", name="Adicionar botão").click()
    panel.get_by_placeholder("Texto do botão").fill("Quero")
    panel.get_by_placeholder("https://…").fill("https://example.com/b")
    expect(page.locator(".form-side").get_by_test_id("preview")).to_contain_text("Oferta B")

    page.locator('[data-action="add-variant"]').click()
    expect(variant_tab(page, 2)).to_contain_text("C")
    page.locator('.variant-panel[data-variant="2"] [data-action="remove-variant"]').click()
    expect(page.locator(".variant-tab")).to_have_count(2)
    expect(variant_tab(page, 1)).to_have_attribute("aria-selected", "true")
    expect(variant_field(page, 1, "copy")).to_have_value(
        "<i>Oferta B</i>: frete grátis, {first_name|amigo}!"
    )
    page.locator("#holdout_percent").fill("10")
    expect(page.get_by_test_id("holdout-sentence")).to_have_text(
        "10 % do público não recebe nada e serve de comparação."
    )
    page.locator('[data-action="add-conversion"]').click()
    expect(conversion_row(page, 1).locator("select")).to_have_value("pix_created")
    conversion_row(page, 1).locator('[id="conversions[1].window_hours"]').fill("24")
    page.get_by_test_id("ab-winner").check()
    expect(page.get_by_test_id("winner-sentence")).to_contain_text(
        "se a diferença não for significativa, vai a variante A", ignore_case=True
    )
    page.get_by_test_id("ab-winner").uncheck()
    screenshot(page, "56-ab-form")

    page.get_by_test_id("save-shot").click()
    shot_id = saved_shot_id(page)
    stored = stack.api("GET", f"/admin/api/shots/{shot_id}")
    assert stored["variants"] == [
        {
            "name": "A",
            "copy": "<b>Oferta A</b>: 10% de desconto hoje.",
            "media_type": "none",
            "media_url": None,
            "buttons": None,
            "weight": 2,
        },
        {
            "name": "B",
            "copy": "<i>Oferta B</i>: frete grátis, {first_name|amigo}!",
            "media_type": "photo",
            "media_url": "https://example.com/b.jpg",
            "buttons": [[{"text": "Quero", "url": "https://example.com/b"}]],
            "weight": 3,
        },
    ]
    assert stored["copy"] == "<b>Oferta A</b>: 10% de desconto hoje."
    assert stored["holdout_percent"] == 10
    assert stored["conversions"] == [
        {"event": "paid", "window_hours": 72},
        {"event": "pix_created", "window_hours": 24},
    ]
    assert stored["winner"] is None
    card = shot_card(page, shot_id)
    expect(card.get_by_test_id("chip-variants")).to_have_text("A/B · 2 variantes")
    expect(card.get_by_test_id("chip-variants")).to_have_attribute("title", "A (2) · B (3)")
    expect(card.get_by_test_id("chip-holdout")).to_have_text("controle 10 %")


def test_the_apis_errors_land_beside_the_variant_or_event_they_name(
    page: Page, stack: Stack
) -> None:
    """A funnel event the API refuses marks its row; B named "holdout" and then "a" (A again)
    mark B's name with its tab shown; a copy Telegram would refuse in A brings tab A back."""
    bot = stack.new_bot(6, name="Erros AB")
    open_admin(page, stack, bot.slug)
    page.get_by_test_id("new-shot").click()
    page.locator("#copy").fill("Versão A")
    open_variants(page)
    variant_tab(page, 1).click()
    variant_field(page, 1, "copy").fill("Versão B")
    page.locator('[data-action="add-conversion"]').click()
    row = conversion_row(page, 1)
    row.locator("select").select_option("custom")
    row.locator('[id="conversions[1].name"]').fill("Lead Form")
    page.get_by_test_id("save-shot").click()
    expect(row.locator(".field-error")).to_contain_text("o nome de um evento do funil")
    expect(row.locator(".field-error")).to_contain_text("conversions.1.event")
    expect(page.locator(".form-summary")).to_have_text("Corrija os campos destacados.")
    row.locator('[id="conversions[1].name"]').fill("lead_form")

    variant_field(page, 1, "name").fill("holdout")
    variant_tab(page, 0).click()
    page.get_by_test_id("save-shot").click()
    name_field = page.locator('[data-field="variants[1].name"]')
    expect(variant_tab(page, 1)).to_have_attribute("aria-selected", "true")
    expect(variant_tab(page, 1)).to_have_class("variant-tab is-invalid")
    expect(name_field.locator(".field-error")).to_contain_text(
        "Cada variante precisa de um nome só dela"
    )
    expect(name_field.locator(".field-error")).to_contain_text("holdout names the control group")
    expect(variant_field(page, 1, "name")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "59-ab-form-error")

    variant_field(page, 1, "name").fill("a")
    page.get_by_test_id("save-shot").click()
    expect(name_field.locator(".field-error")).to_contain_text("must be unique")

    variant_field(page, 1, "name").fill("B")
    variant_tab(page, 0).click()
    variant_field(page, 0, "copy").fill("Versão <b>A")
    variant_tab(page, 1).click()
    page.get_by_test_id("save-shot").click()
    expect(variant_tab(page, 0)).to_have_attribute("aria-selected", "true")
    expect(page.locator('[data-field="variants[0].copy"] .field-error')).to_contain_text(
        "O Telegram recusaria esta mensagem."
    )
    assert stack.shots(bot.slug) == []

    variant_field(page, 0, "copy").fill("Versão <b>A</b>")
    page.get_by_test_id("save-shot").click()
    stored = stack.api("GET", f"/admin/api/shots/{saved_shot_id(page)}")
    assert [v["name"] for v in stored["variants"]] == ["A", "B"]
    assert stored["conversions"][1] == {"event": "lead_form", "window_hours": 72}


def test_a_pending_shots_variants_are_edited_and_turned_off(page: Page, stack: Stack) -> None:
    """The edit form brings back the tabs, the holdout and winner mode; a variant C added and B
    reweighted are stored, the holdout untouched; turning variants off leaves A as the message
    and drops winner mode."""
    bot = stack.new_bot(6, name="Editar AB")
    shot_id = create_ab_shot(
        stack,
        bot.slug,
        variants=[("A", "Primeira versão", 1), ("B", "Segunda versão", 1)],
        holdout_percent=5,
        winner={"test_percent": 30, "wait_hours": 12, "min_sample": 50},
    )
    open_admin(page, stack, bot.slug)
    card = shot_card(page, shot_id)
    expect(card.get_by_test_id("chip-winner")).to_have_text("vencedora automática")
    card.locator('[data-action="edit"]').click()
    expect(page.get_by_test_id("ab-variants")).to_be_checked()
    expect(page.locator(".variant-tab")).to_have_count(2)
    expect(variant_field(page, 0, "copy")).to_have_value("Primeira versão")
    expect(page.locator("#holdout_percent")).to_have_value("5")
    expect(page.get_by_test_id("ab-winner")).to_be_checked()
    expect(page.locator('[id="winner.test_percent"]')).to_have_value("30")
    expect(page.get_by_test_id("winner-sentence")).to_contain_text("30 % do público; 12 h depois")

    page.locator('[data-action="add-variant"]').click()
    expect(variant_tab(page, 2)).to_have_attribute("aria-selected", "true")
    expect(variant_field(page, 2, "name")).to_have_value("C")
    expect(variant_field(page, 2, "copy")).to_have_value("Primeira versão")
    variant_field(page, 2, "copy").fill("Terceira versão")
    variant_tab(page, 1).click()
    variant_field(page, 1, "weight").fill("2")
    page.get_by_test_id("save-shot").click()
    expect(card).to_be_visible()
    stored = stack.api("GET", f"/admin/api/shots/{shot_id}")
    assert [(v["name"], v["copy"], v["weight"]) for v in stored["variants"]] == [
        ("A", "Primeira versão", 1),
        ("B", "Segunda versão", 2),
        ("C", "Terceira versão", 1),
    ]
    assert stored["holdout_percent"] == 5
    assert stored["winner"] == {"test_percent": 30, "wait_hours": 12, "min_sample": 50}
    expect(card.get_by_test_id("chip-variants")).to_have_text("A/B · 3 variantes")

    card.locator('[data-action="edit"]').click()
    page.locator('.variant-panel[data-variant="1"]').wait_for(state="attached")
    variant_field(page, 0, "copy").fill("Só esta versão")
    page.get_by_test_id("ab-variants").uncheck()
    expect(page.locator("#copy")).to_have_value("Só esta versão")
    expect(page.get_by_test_id("variants")).to_be_hidden()
    page.get_by_test_id("save-shot").click()
    expect(card).to_be_visible()
    expect(card.get_by_test_id("chip-variants")).to_have_count(0)
    stored = stack.api("GET", f"/admin/api/shots/{shot_id}")
    assert (stored["variants"], stored["winner"], stored["copy"]) == ([], None, "Só esta versão")
    assert stored["holdout_percent"] == 5


def test_the_section_in_english(page: Page, stack: Stack) -> None:
    """Labels, the holdout's and winner mode's sentences and the badges read in English."""
    bot = stack.new_bot(6, name="AB English")
    create_ab_shot(stack, bot.slug, variants=[("A", "One", 1), ("B", "Two", 1)], holdout_percent=10)
    open_admin(page, stack, bot.slug)
    page.locator('.topbar [data-lang="en"]').click()
    card = page.get_by_test_id("shot-card").first
    expect(card.get_by_test_id("chip-variants")).to_have_text("A/B · 2 variants")
    expect(card.get_by_test_id("chip-holdout")).to_have_text("holdout 10 %")
    page.get_by_test_id("new-shot").click()
    section = page.get_by_test_id("ab-section")
    expect(section.locator("legend")).to_have_text("A/B test and conversions")
    expect(section).to_contain_text("Test variants")
    expect(section).to_contain_text("Control group")
    page.locator("#holdout_percent").fill("15")
    expect(page.get_by_test_id("holdout-sentence")).to_have_text(
        "15 % of the audience gets nothing and serves as the comparison."
    )
    expect(conversion_row(page, 0)).to_contain_text("Primary")
    page.locator("#copy").fill("Hello {first_name|friend}")
    open_variants(page)
    expect(page.locator(".variant-panel:not([hidden])")).to_contain_text("Weight")
    page.get_by_test_id("ab-winner").check()
    expect(page.get_by_test_id("winner-sentence")).to_contain_text(
        "If the difference is not significant, variant A goes"
    )
    screenshot(page, "57-ab-form-en")
