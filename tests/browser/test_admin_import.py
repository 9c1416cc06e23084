"""Importing a file from the admin page: the preview of its columns and first rows, tags
replaced, a job followed to its end with its counts and rejected lines (a reload finds it, the
CSV downloads with the token), a file refused as a whole; in English too."""

from __future__ import annotations

import csv
import io

import pytest
from admin_page import Stack, open_admin, screenshot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def contacts_csv(first_id: int, rows: int) -> bytes:
    """A CSV of `rows` contacts with tags, every 500th with a bad telegram_id."""
    lines = ["telegram_id,first_name,chat_state,tags,attr.plano"]
    for n in range(1, rows + 1):
        if n % 500 == 0:
            lines.append(f"x{n},Ruim,active,vip,")
        else:
            lines.append(f"{first_id + n},Pessoa {n},active,vip|curso-a,anual")
    return ("\n".join(lines) + "\n").encode()


def choose(page: Page, name: str, body: bytes) -> None:
    page.locator("#import-file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": body}
    )


def test_import_a_file_with_preview_progress_and_rejections(page: Page, stack: Stack) -> None:
    """The preview shows the columns and what the first rows become; the job ends done with
    its counts; the rejected lines show with their reasons and download as CSV; a reload of
    the job's address shows it again."""
    bot = stack.new_bot(2, name="Importa")
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Importar").click()
    expect(page.get_by_role("heading", name="Importar")).to_be_visible()

    rows = 3000
    body = contacts_csv(90_000_000, rows)
    choose(page, "contatos.csv", body)
    preview = page.get_by_test_id("import-preview")
    expect(preview.get_by_test_id("import-format")).to_have_text("CSV")
    expect(preview.get_by_test_id("import-columns")).to_contain_text("attr.plano")
    expect(preview.locator('tr[data-line="2"] td').nth(2)).to_contain_text("telegram_id: 90000001")
    expect(preview.locator('tr[data-line="2"] td').nth(2)).to_contain_text('"plano":"anual"')
    page.get_by_role("radio", name="Substituir as tags do contato").click()
    screenshot(page, "85-import-preview")

    page.get_by_role("button", name="Importar contatos.csv").click()
    job = page.get_by_test_id("import-job")
    expect(job).to_have_attribute("data-status", "done", timeout=30_000)
    assert "#/import/" in page.url
    expect(page.get_by_test_id("import-processed")).to_contain_text("3.000")
    expect(page.get_by_test_id("import-inserted")).to_contain_text("2.994")
    expect(page.get_by_test_id("import-rejected")).to_contain_text("6")
    rejections = page.get_by_test_id("import-rejections")
    expect(rejections.locator('tr[data-line="501"]')).to_contain_text("telegram_id")
    expect(rejections.locator('tr[data-line="501"]')).to_contain_text("x500,Ruim,active,vip,")
    screenshot(page, "86-import-done")

    with page.expect_download() as downloaded:
        rejections.get_by_role("button", name="Baixar CSV").click()
    path = downloaded.value.path()
    assert path is not None
    with open(path, encoding="utf-8") as file:
        lines = list(csv.reader(file))
    assert [line[0] for line in lines[1:]] == ["501", "1001", "1501", "2001", "2501", "3001"]

    page.reload()
    expect(page.get_by_test_id("import-job")).to_have_attribute("data-status", "done")
    tags = stack.api("PATCH", f"/admin/api/bots/{bot.slug}/contacts/90000001", {})
    assert tags["tags"] == ["curso-a", "vip"]

    page.get_by_role("button", name="Importar outro arquivo").click()
    expect(page.get_by_test_id("import-recent")).to_contain_text("Concluída")


def test_a_refused_file_and_english(page: Page, stack: Stack) -> None:
    """A header with an unknown column is named in the preview and the start is disabled; in
    English a JSON-lines file of events imports and its job is labelled in English."""
    bot = stack.new_bot(2, name="Recusa")
    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/import")
    choose(page, "errado.csv", b"telegram_id,cor\n1,azul\n")
    expect(page.get_by_test_id("import-preview")).to_contain_text("cor")
    expect(page.get_by_test_id("import-preview-error")).to_be_visible()
    expect(page.get_by_role("button", name="Importar errado.csv")).to_be_disabled()

    page.locator('button[data-lang="en"]').click()
    page.get_by_role("radio", name="Funnel events").click()
    body = io.StringIO()
    for n in range(1, 41):
        body.write(
            f'{{"telegram_id": {n}, "event": "start", "occurred_at": "2026-12-01T10:00:00Z"}}\n'
        )
    body.write("{broken\n")
    page.locator("#import-file").set_input_files(
        {
            "name": "events.jsonl",
            "mimeType": "application/x-ndjson",
            "buffer": body.getvalue().encode(),
        }
    )
    expect(page.get_by_test_id("import-format")).to_have_text("JSON lines")
    page.get_by_role("button", name="Import events.jsonl").click()
    expect(page.get_by_test_id("import-job")).to_have_attribute(
        "data-status", "done", timeout=30_000
    )
    expect(page.get_by_test_id("import-job")).to_contain_text("Done")
    expect(page.get_by_test_id("import-rejections")).to_contain_text("the line is not valid JSON")
    screenshot(page, "87-import-english")


def test_a_large_file_shows_its_progress_through_a_reload(page: Page, stack: Stack) -> None:
    """While a 300,000-line file imports, the bar and the counts move and a reload of the
    job's address shows the same job going on, until it is done."""
    bot = stack.new_bot(2, name="Grande")
    open_admin(page, stack, bot.slug)
    page.goto(f"{stack.base_url}/admin/#/import")
    choose(page, "grande.csv", contacts_csv(95_000_000, 300_000))
    expect(page.get_by_test_id("import-preview")).to_be_visible()
    page.get_by_role("button", name="Importar grande.csv").click()
    job = page.get_by_test_id("import-job")
    expect(job).to_have_attribute("data-status", "running", timeout=30_000)
    processed = page.get_by_test_id("import-processed").locator(".stat-value")
    expect(processed).not_to_have_text("0", timeout=30_000)
    bar = page.get_by_test_id("import-progress")
    screenshot(page, "88-import-running")
    assert 0 < int(bar.get_attribute("aria-valuenow") or 0) < 100
    page.reload()
    expect(page.get_by_test_id("import-job")).to_be_visible()
    expect(page.get_by_test_id("import-job")).to_have_attribute(
        "data-status", "done", timeout=60_000
    )
    expect(page.get_by_test_id("import-inserted")).to_contain_text("299.400")
