"""Long polling: getUpdates feeds the webhook's handler; the offset is stored with each batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from api_support import OTHER_TOKEN, TOKEN, BuildApp, Client, Serve
from sqlalchemy import select

from disparo.db.engine import Database
from disparo.db.tables import bots, processed_updates, telegram_contacts

WINDOW_S = 2.0
CONTACTS = select(
    telegram_contacts.c.bot_slug, telegram_contacts.c.telegram_id, telegram_contacts.c.chat_state
).order_by(telegram_contacts.c.bot_slug, telegram_contacts.c.telegram_id)


async def wait_for(db: Database, query: Any, expected: Any) -> None:
    """Poll the database until `query` answers `expected` (fail after ~5 s)."""
    value = None
    for _ in range(250):
        async with db.read() as conn:
            value = [tuple(row) for row in await conn.execute(query)]
        if value == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{value!r} != {expected!r}")


async def test_polling_bots_get_their_updates(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database
) -> None:
    """Only bots set to polling are polled; turning it on later starts polling within seconds."""
    api = await serve(build_app(poll_refresh_s=0.05))
    for token, user in ((TOKEN, 5), (OTHER_TOKEN, 6)):
        await sim.post(f"/sim/bots/{token}/users", [{"id": user, "first_name": "Rui"}], token=None)
        await sim.post(f"/sim/bots/{token}/updates", {"start": [user]}, token=None)
    await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN, "polling": True})
    await api.post("/admin/api/bots", {"slug": "outra", "token": OTHER_TOKEN})
    await wait_for(db, CONTACTS, [("loja", 5, "active")])
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"block": [5]}, token=None)
    await wait_for(db, CONTACTS, [("loja", 5, "blocked")])
    async with db.read() as conn:
        offset = await conn.scalar(select(bots.c.updates_offset).where(bots.c.slug == "loja"))
        seen = sorted(await conn.scalars(select(processed_updates.c.update_id)))
    assert len(seen) == 2
    assert offset == seen[-1] + 1
    await api.patch("/admin/api/bots/outra", {"polling": True})
    await wait_for(db, CONTACTS, [("loja", 5, "blocked"), ("outra", 6, "active")])


async def test_polling_every_bot_removes_a_webhook_first(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database
) -> None:
    """With --polling every bot is polled, and a webhook left set is deleted so polling works."""
    set_hook = await sim.post(
        f"/bot{TOKEN}/setWebhook", {"url": "https://example.com/hook"}, token=None
    )
    assert set_hook.body["ok"] is True
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 8}], token=None)
    api = await serve(build_app(poll_every_bot=True, poll_refresh_s=0.05))
    await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"start": [8]}, token=None)
    await wait_for(db, CONTACTS, [("loja", 8, "active")])
    info = await sim.post(f"/bot{TOKEN}/getWebhookInfo", {}, token=None)
    assert info.body["result"]["url"] == ""


async def _requests(sim: Client, counter: str) -> int:
    stats = await sim.get("/sim/stats", token=None)
    bot: dict[str, int] = stats.body["result"]["bots"].get(TOKEN.split(":")[0], {})
    return bot.get(counter, 0)


@pytest.mark.parametrize(
    ("fault", "counter"),
    [({"ignore_poll_timeout": True}, "get_updates"), ({"error_5xx": 1.0}, "requests")],
    ids=["answers-at-once", "fails-at-once"],
)
async def test_polling_pauses_after_answers_that_come_back_at_once(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, fault: Any, counter: str
) -> None:
    """A server that answers getUpdates at once, empty or failed, is asked about once a second."""
    api = await serve(build_app(long_poll_s=25, poll_refresh_s=0.05))
    await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})
    await sim.post("/sim/faults", fault, token=None)
    await api.patch("/admin/api/bots/loja", {"polling": True})
    for _ in range(250):
        if await _requests(sim, counter):
            break
        await asyncio.sleep(0.02)
    before = await _requests(sim, counter)
    await asyncio.sleep(WINDOW_S)
    made = await _requests(sim, counter) - before
    assert 1 <= made <= WINDOW_S + 2, f"{made} requests in {WINDOW_S} s"
    if "error_5xx" in fault:
        return
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 5, "first_name": "Rui"}], token=None)
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"start": [5]}, token=None)
    await wait_for(db, CONTACTS, [("loja", 5, "active")])
    assert loop.time() - sent_at < 3.0  # a pause of at most a second, not a backoff
