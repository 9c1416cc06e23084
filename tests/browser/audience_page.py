"""Helpers of the audience browser tests: tagging contacts, asking the API for an estimate, and
filling rows of the page's filter builder."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from admin_page import SeededBot, Stack
from playwright.sync_api import Locator, expect


def tag_contacts(stack: Stack, slug: str, ids: list[int], *tags: str) -> None:
    """Put `tags` on each contact in `ids` (PATCH /bots/{slug}/contacts/{id})."""
    for telegram_id in ids:
        stack.api(
            "PATCH", f"/admin/api/bots/{slug}/contacts/{telegram_id}", {"add_tags": list(tags)}
        )


def estimate(stack: Stack, slug: str, **body: Any) -> dict[str, Any]:
    """The API's estimate of an audience of `slug` (target /start unless given)."""
    answer = stack.api(
        "POST", "/admin/api/audience/estimate", {"bot_slug": slug, "target": "started", **body}
    )
    return dict(answer)


def reachable(bot: SeededBot) -> list[int]:
    """Ids of the contacts the bot holds as reachable (it knows of no block yet)."""
    return [u.id for u in bot.users if not u.announces_block]


def announced_blocks(bot: SeededBot) -> list[int]:
    """Ids of the contacts who told the bot they blocked it."""
    return [u.id for u in bot.users if u.announces_block]


def fill_row(
    builder: Locator, index: int, kind: str, values: dict[str, str], *, negated: bool = False
) -> Locator:
    """Set row `index` of a filter builder (adding it when it is the next one) and return it."""
    rows = builder.locator(".filter-row")
    if rows.count() <= index:
        builder.locator('[data-action="add-condition"]').click()
    row = rows.nth(index)
    expect(row).to_be_visible()
    if row.get_attribute("data-kind") != kind:
        row.locator('[data-role="kind"]').select_option(kind)
        row = rows.nth(index)
        expect(row).to_have_attribute("data-kind", kind)
    not_box = row.locator('[data-role="not"]')
    if not_box.is_checked() != negated:
        not_box.set_checked(negated)
    for key, text in values.items():
        row.locator(f'[data-key="{key}"]').fill(text)
    return row


def import_rows(stack: Stack, slug: str, kind: str, rows: list[dict[str, Any]]) -> None:
    """POST rows as JSON lines to /bots/{slug}/{kind}:import; every row must be taken."""
    request = urllib.request.Request(
        f"{stack.base_url}/admin/api/bots/{slug}/{kind}:import",
        data=b"".join(json.dumps(row).encode() + b"\n" for row in rows),
        method="POST",
        headers={
            "Authorization": f"Bearer {stack.token}",
            "Content-Type": "application/x-ndjson",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        result = json.loads(answer.read())
    assert not result.get("rejected"), result


def import_payments(stack: Stack, slug: str, paid: dict[int, int]) -> None:
    """Record a paid PIX of `paid[telegram_id]` cents for each contact, a day ago."""
    when = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    rows = [
        {"telegram_id": tid, "external_id": f"big-{slug}-{tid}", "status": "paid"}
        | {"amount_cents": cents, "currency": "BRL", "created_at": when, "paid_at": when}
        for tid, cents in paid.items()
    ]
    import_rows(stack, slug, "transactions", rows)


def set_chat_state(stack: Stack, slug: str, ids: list[int], state: str) -> None:
    """The bot learns that these contacts are `state` (blocked, deactivated), by an import."""
    import_rows(stack, slug, "contacts", [{"telegram_id": tid, "chat_state": state} for tid in ids])
