"""The send-time rules through a real worker and the simulator over HTTP, on both databases: a
bot's frequency cap skips who had enough shots (a service message is exempt), a stop-on-
conversion skips who converted after the shot was created (the expiry: test_worker_expiry.py).
Conversions are dated around the fixed NOW, which only the shot's created_at is compared with."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, update
from worker_support import (
    NOW,
    Sim,
    StartWorker,
    add_bot,
    add_contacts,
    add_shot,
    deliveries,
    set_shot,
    wait_for_status,
)

from disparo.db.engine import Database
from disparo.db.tables import bots, funnel_events, payment_transactions

FINAL = ("sent", "skipped", "error", "cancelled", "expired")
MINUTE = timedelta(minutes=1)


async def set_bot(db: Database, slug: str, **values: Any) -> None:
    """Change a bot's settings (its send-time rules)."""
    async with db.write() as conn:
        await conn.execute(update(bots).where(bots.c.slug == slug).values(**values))


async def outcomes(db: Database, shot_id: int) -> dict[int, str]:
    """telegram_id → the delivery's reason if skipped, else its status."""
    return {r["telegram_id"]: r["reason"] or r["status"] for r in await deliveries(db, shot_id)}


async def test_the_cap_skips_who_had_enough_shots_and_a_service_message_goes(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """One shot per contact a day: the first shot goes to everyone, the second skips everyone
    (frequency_cap, and the shot still ends sent), the third, ignoring the cap, goes again."""
    token = await add_bot(db, "loja")
    await set_bot(db, "loja", max_shots_per_contact=1, cap_window_hours=24)
    await add_contacts(db, "loja", range(1, 6))
    first = await add_shot(db, "loja")
    capped = await add_shot(db, "loja")
    service = await add_shot(db, "loja", wake=True)
    await set_shot(db, service, ignore_frequency_cap=True)
    await start_worker()
    for shot_id in (first, capped, service):
        assert (await wait_for_status(db, shot_id, FINAL))["status"] == "sent"
    assert set((await outcomes(db, first)).values()) == {"sent"}
    assert set((await outcomes(db, capped)).values()) == {"frequency_cap"}
    assert set((await outcomes(db, service)).values()) == {"sent"}
    messages = await sim.messages(token)
    assert Counter(m["chat_id"] for m in messages) == dict.fromkeys(range(1, 6), 2)


async def test_stop_on_skips_who_converted_after_the_shot_was_created(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """stop_on pix_created skips a PIX made after created_at (an event or a payment), not one
    made before; stop_on paid skips a payment paid after it, not one paid before nor one
    created and unpaid; the skipped get no message."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 6))
    event = {"bot_slug": "loja", "event": "pix_created"}
    payment = {"bot_slug": "loja", "amount_cents": 4990}
    async with db.write() as conn:
        await conn.execute(
            insert(funnel_events),
            [
                {**event, "telegram_id": 1, "occurred_at": NOW + MINUTE},
                {**event, "telegram_id": 2, "occurred_at": NOW - MINUTE},
            ],
        )
        await conn.execute(
            insert(payment_transactions),
            [
                {**payment, "telegram_id": 3, "external_id": "a", "status": "paid"}
                | {"created_at": NOW - MINUTE, "paid_at": NOW + MINUTE},
                {**payment, "telegram_id": 4, "external_id": "b", "status": "paid"}
                | {"created_at": NOW - 2 * MINUTE, "paid_at": NOW - MINUTE},
                {**payment, "telegram_id": 5, "external_id": "c", "status": "created"}
                | {"created_at": NOW + MINUTE, "paid_at": None},
            ],
        )
    pix = await add_shot(db, "loja")
    await set_shot(db, pix, created_at=NOW, stop_on="pix_created")
    paid = await add_shot(db, "loja")
    await set_shot(db, paid, created_at=NOW, stop_on="paid")
    await start_worker()
    for shot_id in (pix, paid):
        assert (await wait_for_status(db, shot_id, FINAL))["status"] == "sent"
    assert await outcomes(db, pix) == {
        1: "converted",
        2: "sent",
        3: "sent",
        4: "sent",
        5: "converted",
    }
    assert await outcomes(db, paid) == {1: "sent", 2: "sent", 3: "converted", 4: "sent", 5: "sent"}
    messages = Counter(m["chat_id"] for m in await sim.messages(token))
    assert messages == {1: 1, 2: 2, 3: 1, 4: 2, 5: 1}
