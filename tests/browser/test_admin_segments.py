"""Segments on the admin page: the filter builder's rows, live counts, errors beside their row,
a nested filter as JSON, delete refused while a shot uses the segment, and "use in a new shot"."""

from __future__ import annotations

import json
import re
import urllib.error
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from admin_page import Stack, open_admin, saved_shot_id, screenshot, shot_card
from audience_page import estimate, fill_row, import_payments, reachable, tag_contacts
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _segments(stack: Stack, slug: str) -> list[dict[str, object]]:
    return list(stack.api("GET", f"/admin/api/bots/{slug}/segments")["items"])


def test_a_segment_built_from_rows_counts_live_and_is_saved_as_a_tree(
    page: Page, stack: Stack
) -> None:
    """Rows joined by "todas", one negated, money typed in reais: the live count follows each
    edit, the API stores the tree in cents, and the list shows the count and the rule in words."""
    bot = stack.new_bot(40, name="Segmentos")
    vip = reachable(bot)[:6]
    tag_contacts(stack, bot.slug, vip, "vip")
    import_payments(stack, bot.slug, {vip[0]: 25_000, vip[1]: 31_000})
    open_admin(page, stack, bot.slug)

    page.get_by_role("link", name="Segmentos").click()
    expect(page.get_by_role("heading", name="Segmentos")).to_be_visible()
    expect(page.get_by_test_id("segment-list")).to_contain_text("Nenhum segmento ainda")
    page.get_by_test_id("new-segment").click()
    form = page.get_by_test_id("segment-form")
    form.locator("#segment-name").fill("VIP sem compra grande")
    builder = form.get_by_test_id("filter")
    count = form.get_by_test_id("segment-estimate")
    expect(count).to_have_attribute("data-count", str(bot.audience))  # no rows yet: everyone

    fill_row(builder, 0, "tag", {"tag": "vip"})
    expect(count).to_have_attribute("data-count", "6")
    fill_row(builder, 1, "total_paid", {"min_cents": "200,00"}, negated=True)
    expect(count).to_have_attribute("data-count", "4")  # the two big spenders are out
    expect(count).to_have_text("4 contatos")
    expect(builder.locator(".filter-joiner")).to_have_text("e")
    screenshot(page, "30-segment-form")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: rows wrap, nothing hides
    box = builder.locator('[data-action="remove-condition"]').nth(1).bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390
    screenshot(page, "45-segment-form-on-a-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    form.get_by_test_id("save-segment").click()
    expect(page.locator(".toast").last).to_have_text("Segmento “VIP sem compra grande” salvo.")
    (stored,) = _segments(stack, bot.slug)
    assert stored["filter"] == {
        "all": [{"tag": "vip"}, {"not": {"total_paid": {"min_cents": 20000}}}]
    }
    card = page.locator(f'[data-testid="segment-card"][data-segment-id="{stored["id"]}"]')
    expect(card.get_by_test_id("segment-count")).to_have_text("4 contatos")
    expect(card.get_by_test_id("segment-filter")).to_have_text(
        "Tag é vip e não Pagou no total ≥ R$ 200,00"
    )
    screenshot(page, "31-segments")

    card.locator('[data-action="edit"]').click()  # the rows come back from the stored tree
    builder = page.get_by_test_id("filter")
    expect(builder.locator('.filter-row[data-row="1"] [data-key="min_cents"]')).to_have_value(
        "200,00"
    )
    expect(builder.locator('.filter-row[data-row="1"] [data-role="not"]')).to_be_checked()
    builder.locator('[data-group="join"] [data-value="any"]').click()
    builder.locator('.filter-row[data-row="1"] [data-role="not"]').uncheck()
    expected = {"any": [{"tag": "vip"}, {"total_paid": {"min_cents": 20000}}]}
    expect(page.get_by_test_id("segment-estimate")).to_have_attribute(
        "data-count", str(estimate(stack, bot.slug, filter=expected)["count"])
    )
    page.get_by_test_id("save-segment").click()
    expect(page.get_by_test_id("segment-list")).to_contain_text("Tag é vip ou Pagou no total")
    assert _segments(stack, bot.slug)[0]["filter"] == expected


def test_filter_errors_show_beside_their_row(page: Page, stack: Stack) -> None:
    """A wrong amount is caught on the page; the API's error for row 2 (its path
    filter.all[1].paid.min_cents) lands under row 2; a taken name under the name."""
    bot = stack.new_bot(10, name="Erros")
    stack.api(
        "POST",
        f"/admin/api/bots/{bot.slug}/segments",
        {"name": "Já existe", "filter": {"tag": "x"}},
    )
    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/segments/new")
    form = page.get_by_test_id("segment-form")
    form.get_by_test_id("save-segment").click()
    expect(form.locator('[data-field="name"] .field-error')).to_have_text("Preencha este campo.")
    expect(form.locator(".filter-error")).to_have_text("Adicione pelo menos uma condição.")

    form.locator("#segment-name").fill("Já existe")
    builder = form.get_by_test_id("filter")
    fill_row(builder, 0, "tag", {"tag": "vip"})
    second = fill_row(builder, 1, "paid", {"min_cents": "dez reais"})
    form.get_by_test_id("save-segment").click()
    expect(second.locator(".field-error")).to_have_text(
        "Valor inválido: escreva em reais, como 200,00."
    )
    expect(second.locator('[data-key="min_cents"]')).to_have_attribute("aria-invalid", "true")

    fill_row(builder, 1, "paid", {"min_cents": "300", "max_cents": "100,00"})
    expect(second.locator(".field-error")).to_contain_text("above max_cents")  # the live count
    expect(form.get_by_test_id("segment-estimate")).to_have_text("sem estimativa")
    form.get_by_test_id("save-segment").click()
    expect(second.locator(".field-error")).to_contain_text("is above max_cents (30000 > 10000)")
    assert builder.locator('.filter-row[data-row="0"] .field-error').inner_text() == ""
    screenshot(page, "32-segment-errors")

    fill_row(builder, 1, "paid", {"min_cents": "100", "max_cents": "300"})
    form.get_by_test_id("save-segment").click()
    name_field = form.locator('[data-field="name"]')
    expect(name_field.locator(".field-error")).to_contain_text(
        "Já existe um segmento com este nome."
    )
    assert [s["name"] for s in _segments(stack, bot.slug)] == ["Já existe"]


def test_a_nested_filter_is_edited_as_json(page: Page, stack: Stack) -> None:
    """Groups inside groups cannot be rows: the JSON shows with a note; once flat it goes back to
    rows; the English page says the same."""
    bot = stack.new_bot(10, name="Json")
    nested = {"any": [{"all": [{"tag": "a"}, {"tag": "b"}]}, {"tag": "c"}]}
    segment = stack.api(
        "POST", f"/admin/api/bots/{bot.slug}/segments", {"name": "Aninhado", "filter": nested}
    )
    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/segments")
    card = page.locator(f'[data-testid="segment-card"][data-segment-id="{segment["id"]}"]')
    expect(card.get_by_test_id("segment-filter")).to_have_text("filtro avançado (JSON)")
    card.locator('[data-action="edit"]').click()
    builder = page.get_by_test_id("filter")
    area = builder.get_by_test_id("filter-json")
    assert json.loads(area.input_value()) == nested
    expect(builder.locator(".filter-note")).to_contain_text("grupos dentro de grupos")
    expect(builder.locator('[data-action="edit-rows"]')).to_be_disabled()
    expect(page.get_by_test_id("segment-estimate")).to_have_attribute("data-count", "0")
    screenshot(page, "33-segment-json")

    area.fill('{"any": [{"tag": "c"}, ')
    page.get_by_test_id("save-segment").click()
    expect(builder.locator(".filter-error")).to_contain_text("JSON inválido")
    area.fill('{"any": [{"tag": "c"}, {"not": {"language": ["es"]}}]}')
    builder.locator('[data-action="edit-rows"]').click()
    expect(builder.locator(".filter-row")).to_have_count(2)
    expect(builder.locator('[data-group="join"] [data-value="any"]')).to_have_attribute(
        "aria-checked", "true"
    )
    expect(builder.locator('.filter-row[data-row="1"] [data-key="language"]')).to_have_value("es")

    page.get_by_test_id("save-segment").click()
    expect(page.locator(".toast").last).to_have_text("Segmento “Aninhado” salvo.")
    expect(card.get_by_test_id("segment-filter")).to_have_text("Tag é c ou não Idioma é es")
    assert _segments(stack, bot.slug)[0]["filter"] == {
        "any": [{"tag": "c"}, {"not": {"language": ["es"]}}]
    }

    page.locator('.topbar [data-lang="en"]').click()
    expect(card.get_by_test_id("segment-filter")).to_have_text("Tag is c or not Language is es")
    card.locator('[data-action="edit"]').click()
    expect(page.get_by_role("heading", name="Edit segment “Aninhado”")).to_be_visible()
    builder = page.get_by_test_id("filter")
    expect(builder.locator(".filter-head")).to_contain_text("Contacts matching")
    expect(builder.locator('.filter-row[data-row="1"] [data-role="kind"]')).to_have_value(
        "language"
    )
    builder.locator('[data-action="edit-json"]').click()
    expect(builder.locator(".filter-note")).to_contain_text("The filter as JSON")
    screenshot(page, "34-segment-english")


def test_use_in_a_new_shot_then_delete_once_no_shot_uses_it(page: Page, stack: Stack) -> None:
    """ "Usar em novo disparo" opens the form on the segment with its count; deleting it while that
    shot is pending shows the API's message naming the shot; after cancelling, it goes."""
    bot = stack.new_bot(20, name="Uso")
    members = reachable(bot)[:5]
    tag_contacts(stack, bot.slug, members, "curso-a")
    segment = stack.api(
        "POST",
        f"/admin/api/bots/{bot.slug}/segments",
        {"name": "Alunos do curso A", "filter": {"tag": "curso-a"}},
    )
    tomorrow = (datetime.now(ZoneInfo("America/Sao_Paulo")) + timedelta(days=1)).date()
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Segmentos").click()
    card = page.locator(f'[data-testid="segment-card"][data-segment-id="{segment["id"]}"]')
    expect(card.get_by_test_id("segment-count")).to_have_text("5 contatos")
    card.locator('[data-action="use"]').click()

    form = page.get_by_test_id("shot-form")
    expect(form.locator('[data-group="narrowing"] [data-value="segment"]')).to_have_attribute(
        "aria-checked", "true"
    )
    expect(form.locator("#segment_id")).to_have_value(str(segment["id"]))
    expect(form.get_by_test_id("estimate")).to_have_attribute("data-count", "5")
    form.locator('[data-group="when"] [data-value="schedule"]').click()
    form.locator("#scheduled_at").fill(f"{tomorrow.isoformat()}T10:00")
    form.locator("#copy").fill("Aula extra do curso A amanhã!")
    form.get_by_test_id("save-shot").click()
    shot_id = saved_shot_id(page)
    expect(shot_card(page, shot_id).get_by_test_id("chip-segment")).to_have_text(
        "segmento: Alunos do curso A"
    )
    assert stack.api("GET", f"/admin/api/shots/{shot_id}")["segment_id"] == segment["id"]
    page.goto(f"{stack.base_url}/admin/#/shots/{shot_id}")  # its statistics name it too
    expect(page.locator(".page-sub").get_by_test_id("chip-segment")).to_have_text(
        "segmento: Alunos do curso A"
    )

    page.get_by_role("link", name="Segmentos").click()
    card.locator('[data-action="delete"]').click()
    expect(page.get_by_role("dialog")).to_contain_text("Excluir o segmento “Alunos do curso A”?")
    page.get_by_test_id("confirm-ok").click()
    problem = card.get_by_test_id("segment-error")
    expect(problem).to_contain_text("Não dá para excluir: há disparos que ainda não terminaram")
    expect(problem).to_contain_text(re.compile(rf"shots that have not ended: {shot_id}\b"))
    screenshot(page, "35-segment-in-use")

    stack.api("DELETE", f"/admin/api/shots/{shot_id}")
    card.locator('[data-action="delete"]').click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.locator(".toast").last).to_have_text("Segmento “Alunos do curso A” excluído.")
    expect(page.get_by_test_id("segment-list")).to_contain_text("Nenhum segmento ainda")
    with pytest.raises(urllib.error.HTTPError):
        stack.api("GET", f"/admin/api/bots/{bot.slug}/segments/{segment['id']}")
