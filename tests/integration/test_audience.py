"""Audience rules on both backends: exclusions, recency, order, the PIX sources, the snapshot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from worker_support import (
    NOW,
    add_bot,
    add_contacts,
    add_funnel_event,
    add_payment,
    add_shot,
    deliveries,
    set_shot,
    shot,
)

from disparo.db import deliveries as dq
from disparo.db import leases
from disparo.db.audience import AudienceError, audience_members, estimate_audience_size
from disparo.db.engine import Database
from disparo.db.tables import telegram_contacts


async def members(db: Database, slug: str, target: str, recency: int | None = None) -> list[int]:
    async with db.read() as conn:
        return await audience_members(conn, slug, target, recency, now=NOW)


async def size(db: Database, slug: str, target: str, recency: int | None = None) -> int:
    async with db.read() as conn:
        return await estimate_audience_size(conn, slug, target, recency, now=NOW)


@pytest.fixture
async def bot(db: Database) -> str:
    """A bot with contacts of every kind and interaction times, and another bot beside it."""
    await add_bot(db, "loja")
    await add_bot(db, "outra")
    await add_contacts(db, "loja", [1, 2], last_interaction_at=NOW - timedelta(days=1))
    await add_contacts(db, "loja", [3], last_interaction_at=NOW - timedelta(hours=1))
    await add_contacts(db, "loja", [4], last_interaction_at=NOW - timedelta(days=40))
    await add_contacts(db, "loja", [5], last_interaction_at=None)
    await add_contacts(db, "loja", [6], chat_state="blocked")
    await add_contacts(db, "loja", [7], chat_state="deactivated")
    await add_contacts(db, "outra", [1, 8])
    return "loja"


async def test_started_excludes_unreachable_and_orders_hot_leads_first(
    db: Database, bot: str
) -> None:
    """`started`: reachable contacts only, latest interaction first, ties by id, NULL last."""
    assert await members(db, bot, "started") == [3, 1, 2, 4, 5]
    assert await size(db, bot, "started") == 5


async def test_recency_keeps_recent_interactions_only(db: Database, bot: str) -> None:
    """A recency of N days drops older and never-interacted contacts."""
    assert await members(db, bot, "started", 30) == [3, 1, 2]
    assert await size(db, bot, "started", 30) == 3
    assert await members(db, bot, "started", 90) == [3, 1, 2, 4]


async def test_pix_created_sources(db: Database, bot: str) -> None:
    """`pix_created`: a PIX funnel event or a created/paid payment, of this bot, reachable."""
    await add_funnel_event(db, bot, 1, "pix_created")
    await add_funnel_event(db, bot, 1, "checkout_pix_created")  # one member, two sources
    await add_funnel_event(db, bot, 4, "checkout_pix_created")
    await add_payment(db, bot, 5, "paid")
    await add_payment(db, bot, 1, "created")
    await add_payment(db, bot, 2, "expired")  # not a PIX source
    await add_funnel_event(db, bot, 3, "start")  # not a PIX event
    await add_funnel_event(db, bot, 6, "pix_created")  # blocked: excluded
    await add_funnel_event(db, bot, 99, "pix_created")  # not a contact
    await add_funnel_event(db, "outra", 8, "pix_created")  # another bot's
    await add_payment(db, "outra", 2, "paid")  # another bot's payment
    assert await members(db, bot, "pix_created") == [1, 4, 5]
    assert await size(db, bot, "pix_created") == 3
    assert await members(db, bot, "pix_created", 30) == [1]


async def test_bad_parameters_are_refused(db: Database, bot: str) -> None:
    """An unknown target or a recency below one day names the problem."""
    with pytest.raises(AudienceError, match="target 'everyone'"):
        await size(db, bot, "everyone")
    with pytest.raises(AudienceError, match="recency_days"):
        await size(db, bot, "started", 0)


async def test_snapshot_numbers_the_audience_in_send_order(db: Database, bot: str) -> None:
    """The snapshot writes every member once, seq 1..n in send order, and the total."""
    shot_id = await add_shot(db, bot, recency_days=90, scheduled_at=NOW)
    claimed = await leases.claim_due_shot(
        db, worker_id="w1", now=NOW, lease_expires_at=NOW + timedelta(seconds=30)
    )
    assert claimed is not None
    assert claimed.id == shot_id
    total = await dq.snapshot_audience(
        db,
        shot_id,
        bot_slug=bot,
        target="started",
        recency_days=90,
        worker_id="w1",
        now=NOW,
    )
    assert total == dq.Snapshot(4, [])
    rows = await deliveries(db, shot_id)
    assert [(r["seq"], r["telegram_id"], r["status"]) for r in rows] == [
        (1, 3, "pending"),
        (2, 1, "pending"),
        (3, 2, "pending"),
        (4, 4, "pending"),
    ]
    row = await shot(db, shot_id)
    assert (row["audience_total"], row["status"]) == (4, "running")
    # A second snapshot (a resumed shot) changes nothing.
    again = await dq.snapshot_audience(
        db, shot_id, bot_slug=bot, target="started", recency_days=90, worker_id="w1", now=NOW
    )
    assert again == dq.Snapshot(4, [])
    assert len(await deliveries(db, shot_id)) == 4


async def test_empty_audience_ends_the_shot_as_skipped(db: Database, bot: str) -> None:
    """A shot whose audience is empty ends at once with the spec's `skipped`."""
    shot_id = await add_shot(db, bot, target="pix_created", scheduled_at=NOW)
    claimed = await leases.claim_due_shot(
        db, worker_id="w1", now=NOW, lease_expires_at=NOW + timedelta(seconds=30)
    )
    assert claimed is not None
    total = await dq.snapshot_audience(
        db, shot_id, bot_slug=bot, target="pix_created", recency_days=None, worker_id="w1", now=NOW
    )
    assert total == dq.Snapshot(0, [])
    row = await shot(db, shot_id)
    assert (row["status"], row["locked_by"], row["audience_total"]) == ("skipped", None, 0)
    assert row["finished_at"] is not None


async def test_reservation_rechecks_eligibility(db: Database, bot: str) -> None:
    """A contact who blocked the bot or vanished since the snapshot is skipped, not reserved."""
    shot_id = await add_shot(db, bot, scheduled_at=NOW)
    claimed = await leases.claim_due_shot(
        db, worker_id="w1", now=NOW, lease_expires_at=NOW + timedelta(seconds=30)
    )
    assert claimed is not None
    await dq.snapshot_audience(
        db, shot_id, bot_slug=bot, target="started", recency_days=None, worker_id="w1", now=NOW
    )
    async with db.write() as conn:
        await conn.execute(
            telegram_contacts.update()
            .where(telegram_contacts.c.bot_slug == bot, telegram_contacts.c.telegram_id == 1)
            .values(chat_state="blocked")
        )
        await conn.execute(
            telegram_contacts.delete().where(
                telegram_contacts.c.bot_slug == bot, telegram_contacts.c.telegram_id == 2
            )
        )
    reservation = await dq.reserve_batch(db, shot_id, worker_id="w1", now=NOW, limit=3)
    assert reservation.state == "ok"
    assert [r.telegram_id for r in reservation.rows] == [3]
    assert reservation.skipped == {"blocked": 1, "ineligible": 1}
    by_id = {r["telegram_id"]: r for r in await deliveries(db, shot_id)}
    assert (by_id[1]["status"], by_id[1]["reason"]) == ("skipped", "blocked")
    assert (by_id[2]["status"], by_id[2]["reason"]) == ("skipped", "ineligible")
    assert by_id[3]["status"] == "sending"
    # Another worker, or this one after losing its lease, reserves nothing.
    other = await dq.reserve_batch(db, shot_id, worker_id="w2", now=NOW, limit=3)
    assert (other.state, other.rows) == ("lost", [])
    await set_shot(db, shot_id, status="paused")
    paused = await dq.reserve_batch(db, shot_id, worker_id="w1", now=NOW, limit=3)
    assert (paused.state, paused.shot_status, paused.rows) == ("stopped", "paused", [])
