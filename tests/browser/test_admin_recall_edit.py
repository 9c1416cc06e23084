"""Recall and edit on the admin page: a shot sent through the worker to the simulator, its
messages deleted after a confirmation naming the number of people (too old and deactivated ones
listed with Telegram's answer), another shot's messages edited (a refused copy shown beside the
field), a live shot's actions held until it is cancelled, a job paused, resumed and cancelled;
in English too."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import urllib.request
from typing import Any

import pytest
from admin_page import SeededBot, Stack, open_admin, screenshot, shot_card
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser


def _wait(check: Any, timeout_s: float = 60.0) -> Any:
    """Call `check` until it answers something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if answer := check():
            return answer
        time.sleep(0.2)
    raise AssertionError(f"still waiting after {timeout_s} s")


def _sim_post(stack: Stack, bot: SeededBot, what: str, body: Any) -> None:
    """A call of the simulator's control API."""
    request = urllib.request.Request(
        f"{stack.sim_url}/sim/bots/{bot.bot.token}/{what}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _sent_shot(stack: Stack, bot: SeededBot, **fields: Any) -> tuple[int, int]:
    """A shot to the bot's /start contacts, sent by the worker: its id and how many got it."""
    body = {"bot_slug": bot.slug, "target": "started", **fields}
    shot_id = int(stack.api("POST", "/admin/api/shots", body)["id"])
    stats = _wait(
        lambda: (
            (s := stack.api("GET", f"/admin/api/shots/{shot_id}/stats"))["status"] == "sent" and s
        )
    )
    assert stats["sent"] > 3, stats
    return shot_id, int(stats["sent"])


def _delivered(stack: Stack, shot_id: int) -> list[int]:
    """The chats the shot was delivered to, in send order."""
    path = f"/admin/api/shots/{shot_id}/deliveries?status=sent&limit=200"
    return [int(item["telegram_id"]) for item in stack.api("GET", path)["items"]]


def _open_stats(page: Page, stack: Stack, bot: SeededBot, shot_id: int) -> Locator:
    """The shot's statistics screen; its recall and edit panel."""
    open_admin(page, stack, bot.slug)
    shot_card(page, shot_id).locator('[data-action="details"]').click()
    panel = page.get_by_test_id("jobs")
    expect(panel).to_be_visible()
    return panel


def _outcome(job: Locator, outcome: str) -> Locator:
    return job.locator(f'[data-testid="job-outcomes"] [data-outcome="{outcome}"] b')


def test_recall_with_its_confirmation_outcomes_and_csv(page: Page, stack: Stack) -> None:
    """ "Apagar a mensagem de N pessoas?" with the real count; the job runs to done; deleted, too
    old and deactivated counted, the last two listed with Telegram's answer; a reload keeps it;
    the CSV has every message; the words in English."""
    bot = stack.new_bot(24, name="Recolher", rate_per_s=30)
    shot_id, sent = _sent_shot(stack, bot, copy="Cupom <b>VOLTA10</b> só hoje.")
    chats = _delivered(stack, shot_id)
    old, gone_account = chats[:2], chats[2]
    for chat in old:
        _sim_post(stack, bot, "messages/age", {"hours": 49, "chat_id": chat})
    _sim_post(stack, bot, "users", [{"id": gone_account, "state": "deactivated"}])

    panel = _open_stats(page, stack, bot, shot_id)
    expect(panel.locator(".card-title")).to_have_text("Recolher e editar")
    expect(panel.get_by_test_id("jobs-empty")).to_be_visible()
    expect(panel.get_by_test_id("jobs-blocked")).to_be_hidden()
    question = page.evaluate(
        "async () => (await import('/admin/assets/js/job_form.js')).recallQuestion(80412)"
    )
    assert question == "Apagar a mensagem de 80.412 pessoas?"

    panel.locator('[data-action="recall"]').click()
    dialog = page.locator("dialog[open]")
    expect(dialog.locator(".dialog-title")).to_have_text(f"Apagar a mensagem de {sent} pessoas?")
    expect(dialog.locator(".dialog-body")).to_contain_text("48 h")
    screenshot(page, "70-recall-confirm")
    dialog.get_by_test_id("confirm-ok").click()

    job = panel.locator('[data-testid="job"][data-kind="recall"]')
    expect(job).to_have_attribute("data-status", "done", timeout=30_000)
    expect(job.get_by_test_id("job-status")).to_have_text("Concluído")
    expect(_outcome(job, "deleted")).to_have_text(str(sent - 3))
    expect(_outcome(job, "too_old")).to_have_text("2")
    expect(_outcome(job, "deactivated")).to_have_text("1")
    expect(job.locator('[data-outcome="too_old"]').first).to_contain_text("Antigas demais (48 h)")
    rows = job.locator('[data-testid="job-items"] tbody tr')
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("message can't be deleted")
    assert sorted(int(rows.nth(i).locator("td").first.inner_text()) for i in range(2)) == sorted(
        old
    )
    job.get_by_test_id("job-items-filter").select_option("deactivated")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(str(gone_account))
    expect(rows.first).to_contain_text("user is deactivated")
    screenshot(page, "71-recall-done")

    deleted = stack.sim_messages(bot, chats[3])
    assert [m["deleted"] for m in deleted] == [True]
    assert [m["deleted"] for m in stack.sim_messages(bot, old[0])] == [False]

    with page.expect_download() as waiting:
        job.locator('[data-action="job-csv"]').click()
    lines = list(csv.DictReader(io.StringIO(waiting.value.path().read_text())))
    assert len(lines) == sent
    assert {r["outcome"] for r in lines} == {"deleted", "too_old", "deactivated"}

    page.reload()
    job = page.locator('[data-testid="job"][data-kind="recall"]')
    expect(job).to_have_attribute("data-status", "done")
    expect(_outcome(job, "deleted")).to_have_text(str(sent - 3))

    page.locator('.topbar [data-lang="en"]').click()
    panel = page.get_by_test_id("jobs")
    expect(panel.locator(".card-title")).to_have_text("Recall and edit")
    job = panel.locator('[data-testid="job"][data-kind="recall"]')
    expect(job.locator("h3")).to_contain_text("Delete messages")
    expect(job.get_by_test_id("job-status")).to_have_text("Done")
    expect(job.locator('[data-outcome="too_old"]').first).to_contain_text("Too old (48 h)")
    expect(job.locator('[data-outcome="deactivated"]').first).to_contain_text("Account deactivated")
    question = page.evaluate(
        "async () => (await import('/admin/assets/js/job_form.js')).recallQuestion(80412)"
    )
    assert question == "Delete the message of 80,412 people?"
    panel.locator('[data-action="recall"]').click()
    dialog = page.locator("dialog[open]")
    expect(dialog.locator(".dialog-title")).to_have_text(f"Delete the message of {sent} people?")
    screenshot(page, "72-recall-english")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("dialog[open]")).to_have_count(0)


def test_edit_of_the_delivered_messages(page: Page, stack: Stack) -> None:
    """The dialog starts from the shot's copy and buttons; a copy Telegram would refuse is shown
    beside the copy; the accepted edit asks "Editar a mensagem de N pessoas?" and reaches the
    simulator's messages; the words in English."""
    bot = stack.new_bot(16, name="Editar", rate_per_s=30)
    buttons = [[{"text": "Comprar", "url": "https://loja.example/p"}]]
    shot_id, sent = _sent_shot(stack, bot, copy="Promo: <b>R$ 59,90</b>", buttons=buttons)
    chat = _delivered(stack, shot_id)[0]

    panel = _open_stats(page, stack, bot, shot_id)
    panel.locator('[data-action="edit"]').click()
    dialog = page.get_by_test_id("job-edit")
    expect(dialog.locator("#copy")).to_have_value("Promo: <b>R$ 59,90</b>")
    expect(dialog.locator(".button-row input").first).to_have_value("Comprar")
    expect(dialog.get_by_test_id("preview")).to_contain_text("R$ 59,90")

    dialog.locator("#copy").fill("Promo: <b>aberto")
    dialog.get_by_test_id("job-edit-submit").click()
    confirm = page.locator("dialog[open]", has=page.get_by_test_id("confirm-ok"))
    expect(confirm.locator(".dialog-title")).to_have_text(f"Editar a mensagem de {sent} pessoas?")
    confirm.get_by_test_id("confirm-ok").click()
    error = dialog.locator('[data-field="copy"] > .field-error')
    expect(error).to_contain_text("O Telegram recusaria esta mensagem.")
    expect(dialog.locator("#copy")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "73-edit-refused")

    dialog.locator("#copy").fill("Promo: <b>R$ 49,90</b> até meia-noite")
    dialog.locator(".button-row input").first.fill("Comprar agora")
    screenshot(page, "74-edit-form")
    dialog.get_by_test_id("job-edit-submit").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("job-edit")).to_have_count(0)

    job = panel.locator('[data-testid="job"][data-kind="edit"]')
    expect(job).to_have_attribute("data-status", "done", timeout=30_000)
    expect(_outcome(job, "edited")).to_have_text(str(sent))
    expect(job.locator(".job-copy")).to_contain_text("R$ 49,90 até meia-noite")
    expect(job.get_by_test_id("job-items")).to_contain_text("Todas as mensagens foram")
    expect(page.locator(".copy-card")).to_contain_text("R$ 49,90 até meia-noite")
    [message] = stack.sim_messages(bot, chat)
    assert message["edited"] is True
    assert message["text"] == "Promo: R$ 49,90 até meia-noite"
    assert "Comprar agora" in json.dumps(message["reply_markup"])
    screenshot(page, "75-edit-done")

    page.locator('.topbar [data-lang="en"]').click()
    panel = page.get_by_test_id("jobs")
    expect(panel.locator('[data-testid="job"] h3')).to_contain_text("Edit messages")
    panel.locator('[data-action="edit"]').click()
    dialog = page.get_by_test_id("job-edit")
    dialog.locator("#copy").fill("<i>sem fim")
    dialog.get_by_test_id("job-edit-submit").click()
    expect(page.locator(".dialog-title", has_text="Edit the message of")).to_have_text(
        f"Edit the message of {sent} people?"
    )
    page.get_by_test_id("confirm-ok").click()
    expect(dialog.locator('[data-field="copy"] > .field-error')).to_contain_text(
        "Telegram would refuse this message."
    )
    screenshot(page, "76-edit-refused-english")


def test_a_live_shot_first_then_pause_resume_and_cancel(page: Page, stack: Stack) -> None:
    """While the shot sends, recall and edit are held with the reason (cancel it first); once
    cancelled they are offered; a slow recall is paused, resumed and cancelled, what was left
    counted as cancelled."""
    bot = stack.new_bot(30, name="Devagar", rate_per_s=1)
    shot = stack.api(
        "POST",
        "/admin/api/shots",
        {"bot_slug": bot.slug, "target": "started", "copy": "Aviso que saiu errado."},
    )
    shot_id = int(shot["id"])
    panel = _open_stats(page, stack, bot, shot_id)
    expect(page.locator("h1 .badge")).to_have_attribute("data-status", "running")
    expect(panel.locator('[data-action="recall"]')).to_be_disabled()
    expect(panel.locator('[data-action="edit"]')).to_be_disabled()
    expect(panel.get_by_test_id("jobs-blocked")).to_have_text(
        "Cancele o disparo primeiro: enquanto ele envia, novas mensagens ainda sairiam."
    )
    screenshot(page, "77-recall-held")

    _wait(lambda: stack.api("GET", f"/admin/api/shots/{shot_id}/stats")["sent"] >= 10)
    page.locator('[data-action="cancel"]').click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.locator("h1 .badge")).to_have_attribute("data-status", "cancelled")
    expect(panel.locator('[data-action="recall"]')).to_be_enabled()
    expect(panel.get_by_test_id("jobs-blocked")).to_be_hidden()
    # The request in flight at the cancel finishes and is recorded after it: count after that.
    settled = _wait(
        lambda: (s := stack.api("GET", f"/admin/api/shots/{shot_id}/stats"))["sending"] == 0 and s
    )
    sent = int(settled["sent"])

    panel.locator('[data-action="recall"]').click()
    page.get_by_test_id("confirm-ok").click()
    job = panel.locator('[data-testid="job"]')
    expect(job).to_have_count(1)
    expect(panel.locator('[data-action="recall"]')).to_be_disabled()
    expect(panel.get_by_test_id("jobs-blocked")).to_contain_text("Espere o trabalho")
    job.locator('[data-action="job-pause"]').click()
    expect(job).to_have_attribute("data-status", "paused")
    expect(job.get_by_test_id("job-status")).to_have_text("Pausado")
    screenshot(page, "78-recall-paused")
    job.locator('[data-action="job-resume"]').click()
    expect(job).to_have_attribute("data-status", re.compile("pending|running"))
    job.locator('[data-action="job-cancel"]').click()
    page.get_by_test_id("confirm-ok").click()
    expect(job).to_have_attribute("data-status", "cancelled", timeout=10_000)
    expect(job.locator('[data-action="job-resume"]')).to_have_count(0)
    # The worker records what was left as cancelled when it stops, and then the job has ended.
    jobs = f"/admin/api/shots/{shot_id}/jobs"
    left = _wait(lambda: (j := stack.api("GET", jobs)[0])["finished_at"] and j)
    expect(_outcome(job, "cancelled")).to_have_text(str(left["by_outcome"].get("cancelled", 0)))
    assert left["by_outcome"].get("cancelled", 0) > 0
    assert sum(left["by_outcome"].values()) == sent
    expect(job.get_by_test_id("job-items-filter")).to_be_visible()
