"""The snapshot reserves a shot's first batch in its own transaction (the rows go out
`sending` for the lease holder, only while the shot runs) and writes no entry into the sent-time
index; outcomes land only over `sending`; a reservation without send-time rules runs the plain
statements."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from worker_support import NOW, add_bot, add_contacts, add_shot, deliveries, set_shot

from disparo.db import deliveries as dq
from disparo.db import leases, outcomes, reservation
from disparo.db.engine import Database
from disparo.domain.statuses import StopOn

HOUR = timedelta(hours=1)


async def claimed_shot(db: Database, *, contacts: int = 5) -> int:
    """A shot of `contacts` recipients (hottest lead = highest id), claimed by worker w1."""
    await add_bot(db, "loja")
    for n in range(1, contacts + 1):
        await add_contacts(db, "loja", [n], last_interaction_at=NOW - timedelta(hours=100 - n))
    shot_id = await add_shot(db, "loja", scheduled_at=NOW)
    claimed = await leases.claim_due_shot(
        db, worker_id="w1", now=NOW, lease_expires_at=NOW + timedelta(seconds=30)
    )
    assert claimed is not None
    return shot_id


async def snapshot(
    db: Database, shot_id: int, *, worker_id: str = "w1", reserve: int
) -> dq.Snapshot | None:
    return await dq.snapshot_audience(
        db,
        shot_id,
        bot_slug="loja",
        target="started",
        recency_days=None,
        worker_id=worker_id,
        now=NOW,
        reserve=reserve,
    )


async def test_the_first_batch_is_reserved_with_the_snapshot(db: Database) -> None:
    """The first `reserve` deliveries in send order are `sending` (stamped), the rest pending;
    a later reservation continues after them without taking any twice."""
    shot_id = await claimed_shot(db)
    taken = await snapshot(db, shot_id, reserve=2)
    assert taken == dq.Snapshot(5, [dq.Reserved(5, 1), dq.Reserved(4, 2)])
    rows = await deliveries(db, shot_id)
    assert [(r["telegram_id"], r["status"]) for r in rows] == [
        (5, "sending"),
        (4, "sending"),
        (3, "pending"),
        (2, "pending"),
        (1, "pending"),
    ]
    assert [r["updated_at"] is not None for r in rows] == [True, True, False, False, False]
    following = await dq.reserve_batch(
        db, shot_id, worker_id="w1", now=NOW + timedelta(seconds=1), limit=10
    )
    assert [r.telegram_id for r in following.rows] == [3, 2, 1]


async def test_a_resumed_shot_keeps_its_audience_and_reserves_nothing(db: Database) -> None:
    """Snapshotting again (the shot was resumed) neither rewrites nor reserves anything."""
    shot_id = await claimed_shot(db)
    await snapshot(db, shot_id, reserve=0)
    again = await snapshot(db, shot_id, reserve=3)
    assert again == dq.Snapshot(5, [])
    assert {r["status"] for r in await deliveries(db, shot_id)} == {"pending"}


async def test_a_shot_paused_before_its_snapshot_reserves_nothing(db: Database) -> None:
    """Paused between the claim and the snapshot: the audience is written, nothing reserved."""
    shot_id = await claimed_shot(db)
    await set_shot(db, shot_id, status="paused")
    taken = await snapshot(db, shot_id, reserve=3)
    assert taken == dq.Snapshot(5, [])
    assert {r["status"] for r in await deliveries(db, shot_id)} == {"pending"}


async def test_another_workers_snapshot_writes_nothing(db: Database) -> None:
    """Only the lease holder writes the audience."""
    shot_id = await claimed_shot(db)
    assert await snapshot(db, shot_id, worker_id="w2", reserve=3) is None
    assert await deliveries(db, shot_id) == []


async def test_outcomes_are_recorded_exactly_over_sending(db: Database) -> None:
    """A batch of outcomes lands field for field (text with quotes, newlines and accents, a
    microsecond timestamp, NULLs), and only on deliveries still `sending`."""
    shot_id = await claimed_shot(db, contacts=3)
    await snapshot(db, shot_id, reserve=2)  # 3 and 2 reserved; 1 stays pending
    sent_at = NOW + timedelta(microseconds=123_456)
    error = 'Bad Request: can\'t parse "entities"\n— ação inválida'
    batch = [
        dq.DeliveryOutcome(shot_id, 3, "sent", None, None, 991, sent_at, 1),
        dq.DeliveryOutcome(shot_id, 2, "error", None, error, None, None, 3),
        dq.DeliveryOutcome(shot_id, 1, "sent", None, None, 992, sent_at, 1),  # never reserved
    ]
    await outcomes.record_outcomes(db, batch, now=NOW)
    rows = {r["telegram_id"]: r for r in await deliveries(db, shot_id)}
    assert (rows[3]["status"], rows[3]["message_id"], rows[3]["sent_at"]) == ("sent", 991, sent_at)
    assert (rows[2]["status"], rows[2]["error"], rows[2]["attempts"]) == ("error", error, 3)
    assert (rows[2]["message_id"], rows[2]["sent_at"], rows[2]["reason"]) == (None, None, None)
    assert (rows[1]["status"], rows[1]["message_id"]) == ("pending", None)


async def test_the_sent_time_indexes_hold_sent_deliveries_only(db: Database) -> None:
    """idx_shots_sent_slug_time and idx_shots_sent_contact are partial (a snapshot's unsent rows
    cost them nothing), and a query by bot and send time reads one of them."""
    since = NOW - timedelta(days=1)
    query = f"SELECT count(*) FROM shots_sent WHERE bot_slug = 'loja' AND sent_at >= '{since}'"
    names = ("idx_shots_sent_slug_time", "idx_shots_sent_contact")
    async with db.read() as conn:
        if conn.dialect.name == "sqlite":
            found = text("SELECT sql FROM sqlite_master WHERE name = :name")
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}")
            plan = " ".join(str(row[-1]) for row in rows)
        else:
            found = text("SELECT indexdef FROM pg_indexes WHERE indexname = :name")
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = await conn.exec_driver_sql(f"EXPLAIN {query}")
            plan = " ".join(str(row[0]) for row in rows)
        definitions = [await conn.scalar(found, {"name": name}) for name in names]
    for definition in definitions:
        assert "WHERE sent_at IS NOT NULL" in definition.replace("(", "").replace(")", "")
    assert any(name in plan for name in names), plan


# The plain reservation's statements (rows picked with their variant; a holdout member passed,
# migration 0007): the hot path of every shot without a rule. A change here must be deliberate
# (and measured: bench/).
PLAIN_SHA256 = {
    "postgresql": "62e4904a60a0ea63094b1ceb2f301680be6cc9918438f3f0f70c0fe362965125",
    "sqlite_fence": "5e15e9518ba6eca1686e0556c8cbddbfd0aa72239dbccc68a02709ab76b50eaa",
    "sqlite_reserve": "6f11e6934b691d7f688d68a424c3ae9e933b97a459e4820b88f9f90ba282fe3f",
}


def _sha256(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


async def test_a_reservation_without_rules_sends_the_plain_statements(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No rule: the statements sent are the plain ones, unchanged; rules compile their own
    statements once per combination (not per value), and those probe the rules' tables."""
    plain = reservation.PLAIN
    assert _sha256(plain.postgresql) == PLAIN_SHA256["postgresql"]
    assert _sha256(plain.sqlite_fence.text) == PLAIN_SHA256["sqlite_fence"]
    assert _sha256(plain.sqlite_reserve.text) == PLAIN_SHA256["sqlite_reserve"]
    assert reservation.NO_RULES.statements() is plain
    capped = reservation.ReservationRules(cap_max=1, cap_since=NOW)
    assert reservation.ReservationRules(cap_max=3, cap_since=NOW - HOUR).statements() is (
        capped.statements()
    )
    assert "funnel_events" not in capped.statements().postgresql
    paid = reservation.ReservationRules(stop_on=StopOn.PAID, converted_since=NOW)
    assert "payment_transactions" in paid.statements().sqlite_reserve.text
    assert "shots_sent AS h" not in paid.statements().sqlite_reserve.text

    sent: list[str] = []
    if db.raw is not None:
        fetchall = db.raw.fetchall

        async def recording(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
            sent.append(sql)
            return await fetchall(sql, params)

        monkeypatch.setattr(db.raw, "fetchall", recording)
        expected = [plain.postgresql]
    else:
        engine = db.writer.sync_engine

        def on_execute(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            sent.append(statement)

        event.listen(engine, "before_cursor_execute", on_execute)
        expected = [str(c.compile(dialect=engine.dialect)) for c in plain[1:]]
    shot_id = await claimed_shot(db)
    await snapshot(db, shot_id, reserve=0)
    sent.clear()
    taken = await dq.reserve_batch(db, shot_id, worker_id="w1", now=NOW, limit=2)
    if db.raw is None:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert [sql for sql in sent if "shots_" in sql] == expected
    assert [r.telegram_id for r in taken.rows] == [5, 4]


# 20,000 payments and PIX events of 5,000 contacts of one bot over 30 days (PostgreSQL).
_SPREAD = "timestamptz '2026-11-30 12:00+00' - n * interval '2 minutes'"
PG_CONVERSIONS = (
    "INSERT INTO bots (slug, token, webhook_secret) VALUES ('loja', 'x', repeat('s', 20))",
    f"""INSERT INTO payment_transactions
           (bot_slug, telegram_id, external_id, status, amount_cents, created_at)
       SELECT 'loja', mod(n, 5000), 'tx-' || n,
              (ARRAY['created', 'paid', 'expired'])[1 + mod(n, 3)], 4990, {_SPREAD}
       FROM generate_series(1, 20000) AS n""",
    f"""INSERT INTO funnel_events (bot_slug, telegram_id, event, occurred_at)
       SELECT 'loja', mod(n, 5000), (ARRAY['pix_created', 'quiz_done'])[1 + mod(n, 2)], {_SPREAD}
       FROM generate_series(1, 20000) AS n""",
    "ANALYZE payment_transactions, funnel_events",
)


async def test_the_rules_probes_seek_the_contacts_rows(db: Database) -> None:
    """With every rule, each probe seeks the picked contact's own rows: its sent deliveries
    through idx_shots_sent_contact (partial: the probe names `sent_at IS NOT NULL`), its PIX
    events through funnel_events' unique key, its payments through
    idx_payment_transactions_status; never a range of the bot's payments by time, nor a hash
    of every recent conversion."""
    rules = reservation.ReservationRules(
        cap_max=2, cap_since=NOW - 24 * HOUR, stop_on=StopOn.PIX_CREATED, converted_since=NOW
    )
    statements = rules.statements()
    params: dict[str, Any] = {"shot_id": 1, "worker_id": "w1", "now": NOW, "limit": 10}
    params.update(rules.params())
    async with db.write() as conn:
        if conn.dialect.name == "sqlite":  # a planner by rules: no data needed
            sql = f"EXPLAIN QUERY PLAN {statements.sqlite_reserve.text}"
            explained = await conn.exec_driver_sql(sql, {k: str(v) for k, v in params.items()})
            plan = " ".join(str(row[-1]) for row in explained)
            seeks = (
                "idx_shots_sent_contact (bot_slug=? AND telegram_id=? AND sent_at>?)",
                "sqlite_autoindex_funnel_events_1 (bot_slug=? AND telegram_id=?",
                "idx_payment_transactions_status (bot_slug=? AND status=? AND telegram_id=?)",
            )
        else:  # a planner by statistics: give it a bot's worth of payments and events
            for statement in PG_CONVERSIONS:
                await conn.exec_driver_sql(statement)
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # shots_sent is empty
            explained = await conn.exec_driver_sql(f"EXPLAIN {statements.postgresql}", params)
            plan = " ".join(str(row[0]) for row in explained)
            seeks = (
                "idx_shots_sent_contact",
                "uq_funnel_events_bot_slug_telegram_id_event_occurred_at",
                "idx_payment_transactions_status",
            )
    for seek in seeks:
        assert seek in plan, plan
    assert "idx_payment_transactions_created" not in plan, plan
    assert "hashed" not in plan, plan
