"""Webhooks on the admin page: an endpoint created with its events (the secret shown once, with
a copy button), the deliveries of a real shot to a receiver that answers and to one that is
down, a refused URL, a deletion after confirmation; in English too."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from admin_page import Stack, open_admin, screenshot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


class _Receiver(BaseHTTPRequestHandler):
    """Answers 200 on /ok and 503 on /down, keeping what it got."""

    got: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.got.append((self.path, dict(self.headers), body))
        status = 200 if self.path == "/ok" else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"down for maintenance")

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    """A receiver on 127.0.0.1 in a thread: its base URL and what it got."""
    got: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    handler = type("Receiver", (_Receiver,), {"got": got})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()
    server.server_close()


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """docs/api.md's check of Disparo-Signature."""
    parts = dict(item.split("=", 1) for item in headers["Disparo-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


def create(page: Page, url: str, events: list[str], bot_slug: str | None) -> str:
    """Fill the form and create; the secret the page shows once."""
    page.get_by_test_id("new-webhook").click()
    form = page.get_by_test_id("webhook-form")
    form.locator("#url").fill(url)
    for event in events:
        form.locator(f'input[data-event="{event}"]').check()
    if bot_slug:
        form.locator("#bot_slug").select_option(bot_slug)
    form.get_by_role("button", name="Criar webhook").click()
    secret = page.get_by_test_id("webhook-secret")
    expect(secret).to_contain_text("whsec_")
    return secret.inner_text()


def wait_for(check: Any, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.1)


def test_webhooks_are_created_delivered_and_deleted(
    page: Page,
    stack: Stack,
    receiver: tuple[str, list[tuple[str, dict[str, str], bytes]]],
) -> None:
    """A refused URL names the fix; the secret is shown once and signs what arrives; a shot's
    events show as delivered on one endpoint and pending with the 503 on the other."""
    base, got = receiver
    bot = stack.new_bot(4, name="Ganchos")
    open_admin(page, stack, bot.slug)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()

    page.get_by_test_id("new-webhook").click()
    form = page.get_by_test_id("webhook-form")
    form.locator("#url").fill("http://crm.example.com/hooks")
    form.locator('input[data-event="shot.finished"]').check()
    form.get_by_role("button", name="Criar webhook").click()
    url_field = form.locator('[data-field="url"]')
    expect(url_field.locator(".field-error")).to_contain_text("Use uma URL https://")
    expect(url_field.locator(".field-error")).to_contain_text("must use https")
    form.get_by_role("button", name="Cancelar").click()

    secret = create(page, f"{base}/ok", ["shot.started", "shot.finished"], bot.slug)
    page.get_by_role("button", name="Copiar").click()
    expect(page.locator(".toast").last).to_have_text("Segredo copiado.")
    screenshot(page, "68-webhook-secret")
    page.get_by_role("button", name="Já guardei").click()
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
    create(page, f"{base}/down", ["shot.started"], None)
    page.get_by_role("button", name="Já guardei").click()
    listed = stack.api("GET", "/admin/api/webhooks")["items"]
    ok_id, down_id = (e["id"] for e in listed[-2:])
    assert all("secret" not in e for e in listed)
    assert secret not in page.content()  # shown once, gone once dismissed

    shot = stack.api(
        "POST", "/admin/api/shots", {"bot_slug": bot.slug, "target": "started", "copy": "Oi"}
    )
    wait_for(lambda: sum(1 for path, _h, _b in got if path == "/ok") == 2)
    wait_for(lambda: any(path == "/down" for path, _h, _b in got))
    for path, headers, body in got:
        if path == "/ok":
            assert verified(secret, headers, body)
            assert json.loads(body)["data"]["shot_id"] == shot["id"]

    ok_card = page.locator(f'[data-testid="webhook-card"][data-webhook-id="{ok_id}"]')
    expect(ok_card).to_contain_text(bot.slug)
    ok_card.get_by_role("button", name="Entregas recentes").click()
    rows = ok_card.get_by_test_id("webhook-deliveries").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator(".badge")).to_have_text(["Entregue", "Entregue"])
    expect(rows.first).to_contain_text("shot.finished")
    down_card = page.locator(f'[data-testid="webhook-card"][data-webhook-id="{down_id}"]')
    expect(down_card).to_contain_text("todos os bots")
    down_card.get_by_role("button", name="Entregas recentes").click()
    down_row = down_card.get_by_test_id("webhook-deliveries").locator("tbody tr")
    expect(down_row.locator(".badge")).to_have_text("Pendente")
    expect(down_row).to_contain_text("503 · down for maintenance")
    screenshot(page, "69-webhooks")

    page.locator('[data-lang="en"]').click()
    expect(page.get_by_role("button", name="New webhook")).to_be_visible()
    down_card.get_by_role("button", name="Recent deliveries").click()
    expect(down_card.locator(".badge")).to_have_text("Pending")
    down_card.get_by_role("button", name="Delete").click()
    expect(page.locator("dialog")).to_contain_text("pending deliveries are dropped")
    page.locator("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator(".toast").last).to_have_text("Webhook deleted.")
    expect(down_card).to_have_count(0)
    assert [e["id"] for e in stack.api("GET", "/admin/api/webhooks")["items"]][-1] == ok_id
