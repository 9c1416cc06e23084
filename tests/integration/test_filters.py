"""Audience filters on both backends: every leaf, the groups, unknown fields, the estimate's
exclusions, and a shot narrowed by its filter or its segment."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from worker_support import NOW, add_bot, add_contacts, add_shot, deliveries

from disparo.db import deliveries as dq
from disparo.db import leases
from disparo.db.audience import FrequencyCap, audience_members, estimate_with_exclusions
from disparo.db.engine import Database
from disparo.db.filters import filter_condition
from disparo.db.tables import (
    contact_tags,
    funnel_events,
    payment_transactions,
    segments,
    shots_queue,
    shots_sent,
    telegram_contacts,
)
from disparo.domain.filters import parse_filter

DAY = timedelta(days=1)


async def _insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    async with db.write() as conn:
        await conn.execute(insert(table), rows)


async def pay(
    db: Database, telegram_id: int, cents: int, *, at: datetime, status: str = "paid"
) -> None:
    paid_at = at if status == "paid" else None
    row = {"bot_slug": "loja", "telegram_id": telegram_id, "status": status}
    row |= {"external_id": f"{telegram_id}-{at.isoformat()}", "amount_cents": cents}
    await _insert(db, payment_transactions, [row | {"created_at": at, "paid_at": paid_at}])


async def event(db: Database, telegram_id: int, name: str, *, at: datetime) -> None:
    row = {"bot_slug": "loja", "telegram_id": telegram_id, "event": name, "occurred_at": at}
    await _insert(db, funnel_events, [row])


async def tag(db: Database, tag_name: str, *telegram_ids: int) -> None:
    rows = [{"bot_slug": "loja", "telegram_id": t, "tag": tag_name} for t in telegram_ids]
    await _insert(db, contact_tags, rows)


@pytest.fixture
async def bot(db: Database) -> str:
    """Contacts 1–8 of `loja` (7 blocked, 8 deactivated), 1 of another bot, with tags, events,
    payments and a delivery at known times."""
    await add_bot(db, "loja")
    await add_bot(db, "outra")
    await add_contacts(db, "loja", [1, 2, 3, 4, 5, 6], last_interaction_at=NOW - DAY)
    await add_contacts(db, "loja", [7], chat_state="blocked")
    await add_contacts(db, "loja", [8], chat_state="deactivated")
    await add_contacts(db, "outra", [1])
    async with db.write() as conn:
        contacts = telegram_contacts.c
        await conn.execute(
            update(telegram_contacts)
            .where(contacts.bot_slug == "loja", contacts.telegram_id.in_([1, 2]))
            .values(language_code="pt-br", started_at=NOW - 2 * DAY)
        )
        await conn.execute(
            update(telegram_contacts)
            .where(contacts.bot_slug == "loja", contacts.telegram_id == 3)
            .values(language_code="es", started_at=NOW - 30 * DAY, last_interaction_at=None)
        )
    await tag(db, "vip", 1, 3, 7)
    await tag(db, "curso-a", 1, 2, 4)
    await tag(db, "aluno", 2)
    await _insert(db, contact_tags, [{"bot_slug": "outra", "telegram_id": 1, "tag": "lead"}])
    await event(db, 1, "pix_created", at=NOW - 2 * DAY)  # a PIX 2 days ago, never paid
    await pay(db, 2, 25_000, at=NOW - 10 * DAY)  # paid R$ 250 ten days ago
    await pay(db, 4, 9_990, at=NOW - DAY)
    await pay(db, 4, 9_990, at=NOW - 400 * DAY)  # total 199,80
    await pay(db, 5, 4_990, at=NOW - 5 * DAY, status="expired")  # a PIX, expired
    await event(db, 6, "quiz_done", at=NOW - 3 * DAY)
    shot_id = await add_shot(db, "loja", status="sent")
    sent = {"shot_id": shot_id, "bot_slug": "loja", "status": "sent", "seq": 1}
    await _insert(db, shots_sent, [sent | {"telegram_id": 6, "sent_at": NOW - timedelta(hours=5)}])
    return "loja"


async def matching(db: Database, tree: Any, target: str = "started") -> set[int]:
    async with db.read() as conn:
        found = await audience_members(conn, "loja", target, now=NOW, narrowing=parse_filter(tree))
    return set(found)


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ({"tag": "vip"}, {1, 3}),  # 7 is blocked: never in
        ({"all": [{"tag": "curso-a"}, {"not": {"tag": "aluno"}}]}, {1, 4}),
        ({"any": [{"tag": "aluno"}, {"tag": "vip"}]}, {1, 2, 3}),
        ({"last_pix": {"within_days": 3}}, {1, 4}),
        ({"last_pix": {"within_days": 7}}, {1, 4, 5}),
        ({"last_pix": {"older_than_days": 3}}, {2, 5}),
        ({"all": [{"last_pix": {"within_days": 3}}, {"not": {"paid": {}}}]}, {1}),
        ({"paid": {}}, {2, 4}),
        ({"paid": {"min_cents": 20_000}}, {2}),
        ({"paid": {"max_cents": 10_000, "within_days": 2}}, {4}),
        ({"paid": {"within_days": 2}}, {4}),
        ({"total_paid": {"min_cents": 19_980}}, {2, 4}),
        ({"total_paid": {"min_cents": 19_981}}, {2}),
        ({"total_paid": {"max_cents": 0}}, {1, 3, 5, 6}),
        ({"event": {"name": "quiz_done"}}, {6}),
        ({"event": {"name": "quiz_done", "within_days": 2}}, set()),
        ({"event": {"name": "pix_created", "within_days": 3}}, {1}),
        ({"language": ["pt"]}, {1, 2}),
        ({"language": ["es", "en"]}, {3}),
        ({"not": {"language": ["pt"]}}, {3, 4, 5, 6}),  # unknown language: not pt
        ({"started": {"within_days": 7}}, {1, 2}),
        ({"not": {"started": {"within_days": 7}}}, {3, 4, 5, 6}),
        ({"interacted": {"within_days": 2}}, {1, 2, 4, 5, 6}),
        ({"received_shot": {"within_hours": 6}}, {6}),
        ({"received_shot": {"within_hours": 4}}, set()),
        # Ranges of the lifetime total with and without 0 in them, negated, and in a union.
        ({"total_paid": {"min_cents": 0, "max_cents": 19_980}}, {1, 3, 4, 5, 6}),
        ({"total_paid": {"min_cents": 1, "max_cents": 20_000}}, {4}),
        ({"total_paid": {"min_cents": 0}}, {1, 2, 3, 4, 5, 6}),
        ({"not": {"total_paid": {"min_cents": 19_981}}}, {1, 3, 4, 5, 6}),
        ({"any": [{"total_paid": {"min_cents": 19_980}}, {"tag": "vip"}]}, {1, 2, 3, 4}),
        # An `any` of sets and of contact fields; negated; nested.
        (
            {"any": [{"tag": "vip"}, {"language": ["es"]}, {"paid": {"min_cents": 20_000}}]},
            {1, 2, 3},
        ),
        ({"not": {"any": [{"tag": "vip"}, {"event": {"name": "quiz_done"}}]}}, {2, 4, 5}),
        (
            {
                "any": [
                    {"all": [{"tag": "curso-a"}, {"paid": {}}]},
                    {"last_pix": {"older_than_days": 3}},
                ]
            },
            {2, 4, 5},
        ),
        ({"not": {"last_pix": {"within_days": 3}}}, {2, 3, 5, 6}),
        (
            {"all": [{"tag": "curso-a"}, {"last_pix": {"within_days": 3}}, {"not": {"paid": {}}}]},
            {1},
        ),
    ],
)
async def test_each_filter(db: Database, bot: str, tree: Any, expected: set[int]) -> None:
    """Each leaf and group keeps exactly the reachable contacts it describes."""
    assert await matching(db, tree) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {"any": [{"tag": "vip"}, {"paid": {"min_cents": 20_000}}, {"language": ["es"]}]},
        {"all": [{"total_paid": {"min_cents": 19_980}}, {"not": {"tag": "aluno"}}]},
        {"not": {"total_paid": {"max_cents": 10_000}}},
        {"any": [{"last_pix": {"within_days": 7}}, {"received_shot": {"within_hours": 6}}]},
        {"last_pix": {"older_than_days": 3}},
    ],
)
async def test_a_filter_matches_the_same_without_the_bot_given(
    db: Database, bot: str, tree: Any
) -> None:
    """Without the bot (tags applied by filter), each leaf is a probe per contact; with it, a
    set of the bot's rows: both keep the same contacts, blocked and deactivated ones too."""
    node = parse_filter(tree)
    found = []
    for condition in (
        filter_condition(node, now=NOW),
        filter_condition(node, now=NOW, bot_slug="loja"),
    ):
        query = select(telegram_contacts.c.telegram_id).where(
            telegram_contacts.c.bot_slug == "loja", condition
        )
        async with db.read() as conn:
            found.append(set((await conn.scalars(query)).all()))
    assert found[0] == found[1]
    assert found[0]


async def test_a_filter_narrows_the_pix_target_too(db: Database, bot: str) -> None:
    """`pix_created` (a PIX event, or a created or paid payment) narrowed by a tag."""
    assert await matching(db, {"tag": "curso-a"}, "pix_created") == {1, 2, 4}
    assert await matching(db, {"tag": "vip"}, "pix_created") == {1}


async def test_estimate_counts_each_exclusion_once(db: Database, bot: str) -> None:
    """Blocked and deactivated first, then recency, then the filter, then the frequency cap."""
    async with db.read() as conn:
        estimate = await estimate_with_exclusions(
            conn,
            "loja",
            "started",
            2,
            now=NOW,
            narrowing=parse_filter({"not": {"tag": "aluno"}}),
            cap=FrequencyCap(max_shots=1, window_hours=24),
        )
    # 1..6 reachable; 3 never interacted (recency); 2 is aluno (filter); 6 got a shot 5 h ago.
    assert (estimate.count, estimate.blocked, estimate.deactivated) == (3, 1, 1)
    assert (estimate.recency, estimate.filter, estimate.frequency_cap) == (1, 1, 1)
    async with db.read() as conn:
        plain = await estimate_with_exclusions(conn, "loja", "started", now=NOW)
    assert (plain.count, plain.recency, plain.filter, plain.frequency_cap) == (6, 0, 0, 0)


async def test_estimate_of_the_pix_target_with_a_filter(db: Database, bot: str) -> None:
    """`pix_created` (1, 2, 4) narrowed by not having paid within 2 days: 4 is left out."""
    async with db.read() as conn:
        estimate = await estimate_with_exclusions(
            conn,
            "loja",
            "pix_created",
            now=NOW,
            narrowing=parse_filter({"not": {"paid": {"within_days": 2}}}),
            cap=FrequencyCap(max_shots=2, window_hours=24),
        )
    assert (estimate.count, estimate.blocked, estimate.deactivated) == (2, 0, 0)
    assert (estimate.recency, estimate.filter, estimate.frequency_cap) == (0, 1, 0)


async def _snapshot(db: Database, shot_id: int) -> list[int]:
    claimed = await leases.claim_due_shot(
        db, worker_id="w1", now=NOW, lease_expires_at=NOW + timedelta(seconds=30)
    )
    assert claimed is not None
    assert claimed.id == shot_id
    snap = await dq.snapshot_audience(
        db, shot_id, bot_slug="loja", target="started", recency_days=None, worker_id="w1", now=NOW
    )
    assert snap is not None
    return [row["telegram_id"] for row in await deliveries(db, shot_id)]


async def test_a_shot_snapshot_keeps_its_filter(db: Database, bot: str) -> None:
    """A shot with a filter writes only the contacts it matches, in send order."""
    shot_id = await add_shot(db, "loja", scheduled_at=NOW - DAY)
    async with db.write() as conn:
        values = {"filter": {"any": [{"tag": "vip"}, {"paid": {}}]}}
        await conn.execute(update(shots_queue).where(shots_queue.c.id == shot_id).values(values))
    assert sorted(await _snapshot(db, shot_id)) == [1, 2, 3, 4]


async def test_a_shot_snapshot_reads_its_segment_at_send_time(db: Database, bot: str) -> None:
    """A segment is live: the shot uses the segment's filter as it is when the shot starts."""
    async with db.write() as conn:
        row = {"bot_slug": "loja", "name": "Alunos", "filter": {"tag": "aluno"}}
        segment_id = (await conn.execute(insert(segments).values(row))).inserted_primary_key[0]
    shot_id = await add_shot(db, "loja", scheduled_at=NOW - DAY)
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue).where(shots_queue.c.id == shot_id).values(segment_id=segment_id)
        )
        await conn.execute(
            update(segments).where(segments.c.id == segment_id).values(filter={"tag": "curso-a"})
        )
    assert sorted(await _snapshot(db, shot_id)) == [1, 2, 4]
