"""Helpers of the browser tests of personal variables and templates: contacts without a name,
custom attributes, and what the API says a copy renders to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from admin_page import Stack
from audience_page import import_rows
from playwright.sync_api import Locator, Page, expect


def import_nameless(stack: Stack, slug: str, ids: list[int]) -> None:
    """Contacts who pressed /start yesterday and whose names the bot never learnt."""
    when = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    import_rows(stack, slug, "contacts", [{"telegram_id": i, "started_at": when} for i in ids])


def set_attributes(stack: Stack, slug: str, telegram_id: int, **values: str) -> None:
    """Merge custom attributes into one contact (PATCH /bots/{slug}/contacts/{id})."""
    stack.api("PATCH", f"/admin/api/bots/{slug}/contacts/{telegram_id}", {"attributes": values})


def preview(stack: Stack, slug: str, copy: str, **body: Any) -> dict[str, Any]:
    """The API's rendering of `copy` (POST /shots/preview)."""
    return dict(
        stack.api("POST", "/admin/api/shots/preview", {"bot_slug": slug, "copy": copy, **body})
    )


def templates(stack: Stack, slug: str | None = None) -> list[dict[str, Any]]:
    """The stored templates (those `slug` may use, when given)."""
    query = f"?bot_slug={slug}" if slug else ""
    return list(stack.api("GET", f"/admin/api/templates{query}")["items"])


def put_cursor(textarea: Locator, start: int, end: int | None = None) -> None:
    """Place the caret (or a selection) in a textarea."""
    textarea.evaluate(
        "(el, [a, b]) => { el.focus(); el.setSelectionRange(a, b); }",
        [start, start if end is None else end],
    )


def selected_text(textarea: Locator) -> str:
    """What is selected in a textarea."""
    return str(textarea.evaluate("(el) => el.value.slice(el.selectionStart, el.selectionEnd)"))


def open_new_shot(page: Page) -> Locator:
    """Open "Novo disparo" and return its copy textarea."""
    page.get_by_test_id("new-shot").click()
    copy = page.locator("#copy")
    expect(copy).to_be_visible()
    return copy
