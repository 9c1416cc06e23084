"""The bot's report ("Relatórios"): shots really sent through the worker and the simulator, a
tracked button pressed and a payment made after them come back as the totals, the days, the
best-hours grid and the shots' funnels, with the CSV downloads, in pt-BR and English; the
period picker, the empty period, an error and the notice when clicks are not counted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from ab_page import pay_now
from admin_page import Stack, open_admin, saved_shot_id, screenshot
from playwright.sync_api import Page, Route, expect
from reports_page import (
    OFFER_URL,
    click_button,
    csv_rows,
    days_ago,
    delivered_to,
    number_pt,
    report,
    send_shot,
    shot_cell,
    today,
    total,
)

pytestmark = pytest.mark.browser

WHY_PT = {
    "too_few_deliveries": "Ainda não há entregas suficientes para recomendar um horário: envie "
    "mais vezes, em horas diferentes.",
    "no_clear_difference": "Nenhum horário se destaca: as diferenças entre as horas cabem na "
    "margem de erro.",
}
WHY_EN = {
    "too_few_deliveries": "Too few deliveries yet to recommend an hour: send more often, at "
    "different hours.",
    "no_clear_difference": "No hour stands out: the differences between hours are within the "
    "margin of error.",
}
FEW = 30  # the page fades cells with fewer deliveries


def _download(page: Page, testid: str) -> tuple[str, str]:
    """Click a CSV button; the file's suggested name and text."""
    with page.expect_download() as info:
        page.get_by_test_id(testid).click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_text(encoding="utf-8")


def _heatmap_cells(page: Page) -> list[dict[str, Any]]:
    """Every cell of the grid: weekday, hour, deliveries and whether it is drawn faded."""
    return list(
        page.get_by_test_id("heatmap").evaluate(
            """t => [...t.querySelectorAll("td.heatmap-cell")].map(td => ({
                weekday: Number(td.parentElement.dataset.weekday), hour: Number(td.dataset.hour),
                delivered: Number(td.dataset.delivered), few: td.classList.contains("is-few"),
                title: td.title }))"""
        )
    )


def test_the_report_of_real_shots_in_pt_and_en(page: Page, stack: Stack) -> None:
    """Two shots sent to the simulator, one tracked button pressed and one payment between them:
    the screen shows the API's figures (delivered = what the shots sent, 1 click, R$ 49,90),
    every delivery in the grid, both shots ranked with their funnels, and CSVs that add up."""
    bot = stack.new_bot(40, name="Relatorios", rate_per_s=30)
    first = send_shot(stack, bot.slug, "Oferta de verão: 20% no plano anual")
    reached_first = delivered_to(stack, first)
    assert len(reached_first) >= 2
    assert click_button(stack, bot, reached_first[0], "Oferta de verão") == OFFER_URL
    # Paid after the first shot reached them and before the second: a sale of the first only
    # (a payment inside the windows of both would count for both).
    time.sleep(1.1)
    pay_now(stack, bot.slug, {reached_first[1]: 4_990})
    time.sleep(1.1)
    second = send_shot(stack, bot.slug, "Lembrete: a oferta acaba hoje", button=False)
    reached_second = delivered_to(stack, second)
    assert reached_second
    delivered = len(reached_first) + len(reached_second)

    data = report(stack, bot.slug)
    totals = data["totals"]
    assert data["tracking"]["enabled"] is True
    assert (totals["delivered"], totals["clicked"], totals["clicks"]) == (delivered, 1, 1)
    assert (totals["paid"], totals["revenue_cents"], totals["shots"]) == (1, 4_990, 2)
    assert [s["id"] for s in data["shots"]] == [first, second]  # the sale ranks the first on top

    open_admin(page, stack, bot.slug)
    page.locator(".nav-link", has_text="Relatórios").click()
    expect(page).to_have_url(f"{stack.base_url}/admin/#/reports")
    expect(page.locator("h1")).to_have_text("Relatórios")
    expect(page.locator('.report-quick [data-days="30"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#report-from")).to_have_value(days_ago(29))
    expect(page.locator("#report-to")).to_have_value(today().isoformat())
    expect(page.get_by_test_id("report-timezone")).to_contain_text("America/Sao_Paulo (UTC−03:00)")
    expect(page.get_by_test_id("tracking-off")).to_have_count(0)

    expect(total(page, "delivered")).to_have_text(number_pt(delivered))
    expect(total(page, "recipients")).to_have_text(number_pt(totals["recipients"]))
    expect(page.get_by_test_id("total-recipients")).to_contain_text("em 2 disparos")
    expect(total(page, "clicked")).to_have_text("1")
    expect(page.get_by_test_id("total-clicked")).to_contain_text("1 clique")
    expect(total(page, "paid")).to_have_text("1")
    expect(total(page, "revenue")).to_have_text("R$\u00a049,90")
    lost = totals["blocked"] + totals["deactivated"]
    expect(total(page, "blocked")).to_have_text(number_pt(lost))

    day = today().isoformat()
    bar = page.locator(f'[data-testid="daily-delivered"] g[data-date="{day}"] rect')
    expect(bar).to_have_attribute("data-value", str(delivered))
    expect(page.locator(f'[data-testid="daily-outcomes"] g[data-date="{day}"] rect')).to_have_count(
        2
    )
    page.locator(".report-details summary").click()
    today_row = page.locator(f'[data-testid="report-days"] tr[data-date="{day}"]')
    expect(today_row.locator('[data-col="delivered"]')).to_have_text(number_pt(delivered))
    expect(page.locator('[data-testid="report-days"] tbody tr')).to_have_count(30)

    cells = _heatmap_cells(page)
    assert len(cells) == 7 * 24
    assert sum(c["delivered"] for c in cells) == delivered
    api_cells = {(c["weekday"], c["hour"]): c for c in data["best_hours"]["cells"]}
    for cell in cells:
        assert cell["delivered"] == api_cells.get((cell["weekday"], cell["hour"]), {}).get(
            "delivered", 0
        )
        assert cell["few"] == (0 < cell["delivered"] < FEW)
        if cell["delivered"]:
            assert f"{cell['delivered']} entregas" in cell["title"], cell
            assert "IC 95 %" in cell["title"], cell
    best = data["best_hours"]
    if best["recommendation"] is None:
        expect(page.get_by_test_id("no-recommendation")).to_have_text(WHY_PT[best["why_none"]])
    else:
        expect(page.get_by_test_id("recommendation")).to_contain_text("Envie às")

    rows = page.locator('[data-testid="report-shots"] tbody tr')
    expect(rows).to_have_count(2)
    assert [int(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.shotId)")] == [
        s["id"] for s in data["shots"]
    ]
    expect(shot_cell(page, first, "delivered")).to_have_text(number_pt(len(reached_first)))
    expect(shot_cell(page, second, "delivered")).to_have_text(number_pt(len(reached_second)))
    expect(shot_cell(page, first, "clicked")).to_have_text("1")
    expect(shot_cell(page, first, "paid")).to_have_text("1")
    expect(shot_cell(page, first, "revenue")).to_have_text("R$\u00a049,90")
    expect(shot_cell(page, second, "revenue")).to_have_text("R$\u00a00,00")
    by_id = {s["id"]: s for s in data["shots"]}
    for shot_id in (first, second):
        expect(shot_cell(page, shot_id, "audience")).to_have_text(
            number_pt(by_id[shot_id]["audience"])
        )
        expect(shot_cell(page, shot_id, "paid")).to_have_text(str(by_id[shot_id]["paid"]))
    screenshot(page, "62-reports")

    name, text = _download(page, "report-csv-hours")
    assert name == f"disparo-{bot.slug}-hours-{days_ago(29)}-{day}.csv"
    assert text.splitlines()[0] == "weekday,hour,delivered,clicked,paid,click_rate,paid_rate"
    assert sum(int(r["delivered"]) for r in csv_rows(text)) == delivered
    _, text = _download(page, "report-csv-days")
    assert [int(r["delivered"]) for r in csv_rows(text) if r["date"] == day] == [delivered]
    _, text = _download(page, "report-csv-shots")
    assert sorted(int(r["id"]) for r in csv_rows(text)) == sorted([first, second])

    page.locator('.topbar [data-lang="en"]').click()
    expect(page.locator("h1")).to_have_text("Reports")
    expect(page.locator(".nav-link.active")).to_have_text("Reports")
    expect(page.get_by_test_id("total-delivered")).to_contain_text("Delivered")
    expect(total(page, "delivered")).to_have_text(f"{delivered:,}")
    expect(page.get_by_test_id("total-recipients")).to_contain_text("in 2 shots")
    expect(total(page, "revenue")).to_have_text("R$49.90")
    expect(page.locator('[data-testid="report-shots"] thead th')).to_have_text(
        [
            "Shot",
            "Message",
            "Audience",
            "Delivered",
            "Clicked",
            "PIX",
            "Paid",
            "Revenue",
            "Revenue per recipient",
        ]
    )
    if best["recommendation"] is None:
        expect(page.get_by_test_id("no-recommendation")).to_have_text(WHY_EN[best["why_none"]])
    titles = [c["title"] for c in _heatmap_cells(page) if c["delivered"]]
    assert titles
    assert all("95% CI" in t for t in titles), titles
    screenshot(page, "63-reports-en")


def test_the_period_picker_an_empty_period_and_an_error(page: Page, stack: Stack) -> None:
    """A bot that delivered nothing shows the empty state; 7 days asks the API for the last 7
    days and keeps them in the address; a period ending before it starts is refused on the
    page; a failed request offers a retry that loads the report."""
    bot = stack.new_bot(3, name="Relatorio vazio")
    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/reports")
    expect(page.get_by_test_id("report-empty")).to_contain_text("Nada entregue neste período")
    expect(page.locator(".report-csv")).to_be_hidden()

    with page.expect_request(lambda r: "/report?" in r.url) as asked:
        page.locator('.report-quick [data-days="7"]').click()
    assert f"from={days_ago(6)}" in asked.value.url
    assert f"to={today().isoformat()}" in asked.value.url
    expect(page).to_have_url(
        f"{stack.base_url}/admin/#/reports?from={days_ago(6)}&to={today().isoformat()}"
    )
    expect(page.locator('.report-quick [data-days="7"]')).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("report-empty")).to_be_visible()
    screenshot(page, "64-reports-empty")

    page.locator("#report-from").fill(days_ago(1))
    page.locator("#report-to").fill(days_ago(3))
    page.get_by_test_id("report-apply").click()
    expect(page.get_by_test_id("period-error")).to_have_text(
        "A data inicial precisa ser antes da final."
    )

    def unavailable(route: Route) -> None:
        body = {"error": {"code": "unavailable", "message": "database is restarting"}}
        route.fulfill(status=503, content_type="application/json", body=json.dumps(body))

    page.route("**/admin/api/bots/*/report?*", unavailable)
    page.locator('.report-quick [data-days="90"]').click()
    expect(page.get_by_test_id("period-error")).to_have_text("")
    error = page.get_by_test_id("report-error")
    expect(error).to_contain_text("Não foi possível carregar o relatório")
    expect(error).to_contain_text("database is restarting")
    page.unroute("**/admin/api/bots/*/report?*")
    error.get_by_role("button", name="Tentar de novo").click()
    expect(page.get_by_test_id("report-empty")).to_be_visible()
    expect(page.locator("#report-from")).to_have_value(days_ago(89))


def test_without_click_counting_the_page_says_why(page: Page, stack: Stack) -> None:
    """When the API says clicks are not counted (this stack has DISPARO_PUBLIC_URL, so its real
    answer is altered on the way), a notice names DISPARO_PUBLIC_URL, the clicks read "—" and
    the grid is coloured by the paid rate."""
    bot = stack.new_bot(12, name="Sem cliques", rate_per_s=30)
    send_shot(stack, bot.slug, "Novidades da semana", button=False)
    reason = "DISPARO_PUBLIC_URL is not set, so buttons lead straight to their links"

    def untracked(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        body["tracking"] = {"enabled": False, "reason": reason}
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/admin/api/bots/*/report?*", untracked)
    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/reports")
    notice = page.get_by_test_id("tracking-off")
    expect(notice).to_contain_text("Cliques não são contados")
    expect(notice).to_contain_text("DISPARO_PUBLIC_URL não está definido")
    expect(notice).to_contain_text(reason)
    expect(total(page, "clicked")).to_have_text("—")
    expect(page.get_by_test_id("heatmap")).to_have_attribute("data-metric", "paid_rate")
    expect(page.locator('[data-group="heatmap-metric"]')).to_have_count(0)
    expect(page.locator('[data-testid="report-shots"] [data-col="clicked"]')).to_have_text("—")
    screenshot(page, "65-reports-no-tracking")


def test_a_recommended_hour_reads_as_a_sentence(page: Page, stack: Stack) -> None:
    """When the API recommends an hour (it needs hundreds of deliveries at several hours, so
    the real answer is completed on the way), the page says it as a sentence with the rates and
    the interval of the difference, in pt-BR and English, and marks the hour on the grid; the
    toggle colours the grid by the paid rate."""
    bot = stack.new_bot(12, name="Melhor hora", rate_per_s=30)
    send_shot(stack, bot.slug, "Promoção da noite")
    hours: list[int] = []

    def recommended(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        hour = body["best_hours"]["cells"][0]["hour"]
        hours.append(hour)
        body["best_hours"]["recommendation"] = {
            "hour": hour,
            "metric": "click_rate",
            "delivered": 2_400,
            "rate": {"value": 0.041, "low": 0.033, "high": 0.05},
            "others_rate": {"value": 0.023, "low": 0.021, "high": 0.025},
            "difference": {"value": 0.018, "low": 0.012, "high": 0.024},
            "confidence": 0.9958,
        }
        body["best_hours"]["why_none"] = None
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/admin/api/bots/*/report?*", recommended)
    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/reports")
    advice = page.get_by_test_id("recommendation")
    expect(advice).to_be_visible()  # the hour is known once the answer went by
    expect(advice).to_contain_text(
        f"Envie às {hours[0]}h: 4,1 % clicam, contra 2,3 % nas outras horas (diferença de 1,2 "
        "a 2,4 pontos, IC 95 %)."
    )
    expect(advice).to_contain_text("Com base em 2.400 entregas nesse horário.")
    expect(page.locator(f'td.heatmap-cell.is-recommended[data-hour="{hours[0]}"]')).to_have_count(7)
    expect(page.get_by_test_id("no-recommendation")).to_have_count(0)
    page.locator('[data-group="heatmap-metric"] [data-value="paid_rate"]').click()
    expect(page.get_by_test_id("heatmap")).to_have_attribute("data-metric", "paid_rate")
    screenshot(page, "66-reports-best-hour")
    page.locator('.topbar [data-lang="en"]').click()
    expect(page.get_by_test_id("recommendation")).to_contain_text(
        f"Send at {hours[-1]}:00: 4.1% click, against 2.3% at the other hours (a difference of "
        "1.2 to 2.4 points, 95% CI)."
    )


def test_the_shot_form_switches_click_counting(page: Page, stack: Stack) -> None:
    """Counting is on for buttons and off for the copy's links by default; both are stored as
    ticked, and an edit shows them again."""
    bot = stack.new_bot(3, name="Cliques")
    open_admin(page, stack, bot.slug)
    page.get_by_test_id("new-shot").click()
    page.locator("#copy").fill('Oferta com <a href="https://loja.example">link</a>')
    page.locator('[data-group="when"] [data-value="schedule"]').click()
    clicks, copy_links = page.locator("#track_clicks"), page.locator("#track_copy_links")
    expect(clicks).to_be_checked()
    expect(copy_links).not_to_be_checked()
    expect(page.locator('[data-field="track_clicks"]')).to_contain_text("DISPARO_PUBLIC_URL")
    copy_links.check()
    page.locator('[data-field="track_clicks"]').scroll_into_view_if_needed()
    screenshot(page, "67-shot-click-counting")
    page.get_by_test_id("save-shot").click()
    shot_id = saved_shot_id(page)
    stored = stack.api("GET", f"/admin/api/shots/{shot_id}")
    assert (stored["track_clicks"], stored["track_copy_links"]) == (True, True)
    assert [g["event"] for g in stored["conversions"]] == ["paid", "pix_created"]
    stack.api("PATCH", f"/admin/api/shots/{shot_id}", {"track_clicks": False})
    page.goto(f"{stack.base_url}/admin/#/shots/{shot_id}/edit")
    expect(page.locator("#track_clicks")).not_to_be_checked()
    expect(page.locator("#track_copy_links")).to_be_checked()
