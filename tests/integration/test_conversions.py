"""A/B variants, a holdout and conversions through a real worker and the simulator over HTTP, on
both databases: each recipient gets its variant (a holdout member nothing), assignment is the
documented hash, and the conversions planted after the deliveries come back in the report with
the planted effect recovered (a null effect reads as inconclusive)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, insert, literal, select, update
from worker_support import (
    NOW,
    Sim,
    StartWorker,
    add_bot,
    add_contacts,
    add_shot,
    set_shot,
    shot,
    wait_for_status,
    wait_until,
)

from disparo.db.conversions import group_facts
from disparo.db.engine import Database
from disparo.db.experiment import bucket_of, write_experiment
from disparo.db.tables import (
    funnel_events,
    payment_transactions,
    shots_queue,
    shots_sent,
)
from disparo.db.tables_campaign import shot_conversions
from disparo.domain.conversion_report import ALL, group_json, summary
from disparo.domain.experiment import Goal, Split, Variant, bucket

AUDIENCE = range(1, 2001)
GOALS = (Goal("paid", 72), Goal("pix_created", 24))
PRICE = 10_000
# The planted truth: one buyer in every `k` recipients of each group, in Telegram id order.
EVERY = {"holdout": 20, "A": 20, "B": 8}


def _variant(name: str, weight: int = 1) -> Variant:
    return Variant(name, f"Oferta {name}", "none", None, None, weight)


async def _ab_shot(db: Database, *, holdout_percent: int = 20) -> int:
    shot_id = await add_shot(db, "loja", copy="Oferta A", wake=True)
    async with db.write(wake=True) as conn:
        await write_experiment(
            conn, shot_id, "loja", variants=(_variant("A"), _variant("B")), goals=GOALS
        )
        await conn.execute(
            update(shots_queue)
            .where(shots_queue.c.id == shot_id)
            .values(holdout_percent=holdout_percent, templated=True)
        )
    return shot_id


async def _rows(db: Database, shot_id: int) -> list[Any]:
    async with db.read() as conn:
        query = select(shots_sent).where(shots_sent.c.shot_id == shot_id).order_by(shots_sent.c.seq)
        return list((await conn.execute(query)).mappings())


def _reached(row: Any) -> datetime:
    return row["sent_at"] if row["sent_at"] is not None else row["updated_at"]


async def _plant(db: Database, rows: list[Any]) -> dict[str, int]:
    """Payments (and PIX events) after each planted buyer's delivery; buyers per group."""
    by_group: dict[str, list[Any]] = {}
    for row in rows:
        by_group.setdefault(row["variant"], []).append(row)
    payments, events, buyers = [], [], Counter[str]()
    for group, members in by_group.items():
        for i, row in enumerate(sorted(members, key=lambda r: r["telegram_id"])):
            if i % EVERY[group]:
                continue
            buyers[group] += 1
            tid, at = row["telegram_id"], _reached(row)
            payments.append(_payment(tid, f"{tid}-1", at + timedelta(hours=1)))
            events.append({"bot_slug": "loja", "telegram_id": tid, "event": "pix_created"})
            events[-1]["occurred_at"] = at + timedelta(minutes=30)
    async with db.write() as conn:
        await conn.execute(insert(payment_transactions), payments)
        await conn.execute(insert(funnel_events), events)
    return dict(buyers)


def _payment(tid: int, external_id: str, at: datetime, status: str = "paid") -> dict[str, Any]:
    return {
        "bot_slug": "loja",
        "telegram_id": tid,
        "external_id": external_id,
        "status": status,
        "amount_cents": PRICE,
        "created_at": at,
        "paid_at": at if status == "paid" else None,
    }


async def test_variants_holdout_and_a_planted_effect(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """Each chat gets its variant's copy and a holdout member nothing; the report recovers
    B's planted lift (its interval covers the truth and excludes 0) and reads A as
    inconclusive (the same true rate as the holdout)."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", AUDIENCE)
    shot_id = await _ab_shot(db)
    await start_worker()
    assert (await wait_for_status(db, shot_id))["status"] == "sent"

    rows = await _rows(db, shot_id)
    split = Split.of(arms=(_variant("A").arm, _variant("B").arm), holdout_percent=20)
    assert split is not None
    for row in rows:  # recorded at the snapshot exactly as documented
        assert row["variant"] == split.group(bucket(shot_id, row["telegram_id"]))
    groups = Counter(row["variant"] for row in rows)
    assert sum(groups.values()) == len(AUDIENCE)
    assert 320 <= groups["holdout"] <= 480
    assert 640 <= groups["A"] <= 960
    assert {row["status"] for row in rows if row["variant"] == "holdout"} == {"holdout"}
    assert all(row["updated_at"] is not None for row in rows)
    messages = {m["chat_id"]: m["text"] for m in await sim.messages(token)}
    assert len(messages) == groups["A"] + groups["B"]
    for row in rows:
        if row["variant"] == "holdout":
            assert row["telegram_id"] not in messages
            assert row["sent_at"] is None
        else:
            assert messages[row["telegram_id"]] == f"Oferta {row['variant']}"

    buyers = await _plant(db, rows)
    async with db.read() as conn:
        facts = await group_facts(conn, shot_id, unassigned=ALL)
    for group, count in buyers.items():
        assert facts[group].conversions == {"paid": count, "pix_created": count}
        assert facts[group].revenue_cents == count * PRICE
        assert facts[group].recipients == groups[group]
    assert facts["holdout"].delivered == 0
    assert facts["A"].delivered == groups["A"]

    events = [g.event for g in GOALS]
    report = {name: group_json(f, events, facts["holdout"]) for name, f in facts.items()}
    b, a = report["B"]["lift"]["paid"]["absolute"], report["A"]["lift"]["paid"]["absolute"]
    truth_b = buyers["B"] / groups["B"] - buyers["holdout"] / groups["holdout"]
    assert b["low"] <= truth_b <= b["high"]
    assert b["low"] > 0
    assert report["B"]["significant"] is True
    assert a["low"] < 0 < a["high"]
    assert report["A"]["significant"] is False
    money = report["B"]["revenue_lift"]["total_cents"]
    assert money["low"] > 0
    assert money["value"] == report["B"]["revenue_lift"]["per_recipient"]["value"] * groups["B"]
    sentence = summary(list(report.values()), events, has_holdout=True)
    assert sentence["pt-BR"].startswith("A variante B gerou R$ ")
    assert "a mais que não enviar nada (IC 95 %: R$ " in sentence["pt-BR"]
    assert sentence["en"].startswith("Variant B earned R$ ")


async def _exposed(
    db: Database, *, status: str = "sent", variant: str | None = None
) -> tuple[int, datetime]:
    """A shot with conversion events and one recipient (7) reached at NOW: as its delivery, or
    as the turn of a holdout member or of a recipient it could not reach."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [7])
    shot_id = await add_shot(db, "loja")
    async with db.write() as conn:
        await write_experiment(conn, shot_id, "loja", goals=(Goal("paid", 72), Goal("lead", 2)))
        row = {"shot_id": shot_id, "bot_slug": "loja", "telegram_id": 7, "seq": 1}
        if status != "sent":
            row |= {"status": status, "variant": variant, "updated_at": NOW}
        else:
            row |= {"status": "sent", "sent_at": NOW, "updated_at": NOW + timedelta(seconds=1)}
        await conn.execute(insert(shots_sent).values(**row))
    return shot_id, NOW


async def _conversions(db: Database, shot_id: int) -> dict[str, tuple[Any, ...]]:
    async with db.read() as conn:
        query = select(
            shot_conversions.c.event,
            shot_conversions.c.converted_at,
            shot_conversions.c.revenue_cents,
            shot_conversions.c.payments,
            shot_conversions.c.variant,
        ).where(shot_conversions.c.shot_id == shot_id)
        return {row[0]: tuple(row[1:]) for row in await conn.execute(query)}


async def test_windows_repeats_and_late_payments(db: Database) -> None:
    """Only events after the delivery and within their window count; a recipient converts
    once per event (the earliest time) while revenue adds every paid payment in the window; a
    payment that becomes paid later counts then; a funnel event named paid counts for nothing."""
    shot_id, at = await _exposed(db)
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions),
            [
                _payment(7, "before", at - timedelta(minutes=1)),
                _payment(7, "late", at + timedelta(hours=73)),
                _payment(7, "one", at + timedelta(hours=5)),
                _payment(7, "two", at + timedelta(hours=2)),  # one statement: both add up
                _payment(7, "pending", at + timedelta(hours=3), status="created"),
            ],
        )
        await conn.execute(
            insert(funnel_events),
            [
                {"bot_slug": "loja", "telegram_id": 7, "event": "lead", "occurred_at": t}
                for t in (at + timedelta(hours=3), at + timedelta(hours=1))
            ]
            + [{"bot_slug": "loja", "telegram_id": 7, "event": "paid", "occurred_at": at}],
        )
    found = await _conversions(db, shot_id)
    assert found["paid"][:3] == (at + timedelta(hours=2), 2 * PRICE, 2)
    assert found["lead"][:3] == (at + timedelta(hours=1), 0, 0)
    assert set(found) == {"paid", "lead"}  # pix_created is not one of this shot's events
    async with db.write() as conn:
        await conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.external_id == "pending")
            .values(status="paid", paid_at=at + timedelta(hours=4))
        )
    assert (await _conversions(db, shot_id))["paid"][1:3] == (3 * PRICE, 3)


@pytest.mark.parametrize(
    ("status", "variant"), [("holdout", "holdout"), ("skipped", "B"), ("error", None)]
)
async def test_a_recipient_not_delivered_converts_after_its_turn(
    db: Database, status: str, variant: str | None
) -> None:
    """A holdout member, or a recipient the shot could not reach, is followed like a delivered
    one from the moment its turn came (intention to treat)."""
    shot_id, at = await _exposed(db, status=status, variant=variant)
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions),
            [_payment(7, "x", at - timedelta(hours=1)), _payment(7, "y", at + timedelta(hours=9))],
        )
    assert (await _conversions(db, shot_id))["paid"] == (
        at + timedelta(hours=9),
        PRICE,
        1,
        variant,
    )


async def _winner_test(db: Database, sim: Sim, start_worker: StartWorker, every_b: int) -> Any:
    """A winner-mode shot on 2,000 contacts: the test share sent, conversions planted (one in
    20 of A's test recipients buy, one in `every_b` of B's), the wait cut short; the shot once
    it ends, with its rows."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", AUDIENCE)
    shot_id = await _ab_shot(db, holdout_percent=0)
    await set_shot(db, shot_id, winner={"test_percent": 20, "wait_hours": 6, "min_sample": 50})
    await start_worker()

    async def waiting() -> bool:
        return (await shot(db, shot_id))["winner_decision"] is not None

    await wait_until(waiting, what="the end of the test share")
    row = await shot(db, shot_id)
    assert row["status"] == "pending"
    assert row["locked_by"] is None
    test = [r for r in await _rows(db, shot_id) if r["variant"] is not None]
    rest = [r for r in await _rows(db, shot_id) if r["variant"] is None]
    assert 300 <= len(test) <= 500
    assert {r["status"] for r in test} == {"sent"}
    assert {r["status"] for r in rest} == {"pending"}
    payments = []
    for group, every in (("A", 20), ("B", every_b)):
        members = sorted((r for r in test if r["variant"] == group), key=lambda r: r["telegram_id"])
        for r in members[::every]:
            payments.append(
                _payment(r["telegram_id"], f"w{r['telegram_id']}", _reached(r) + timedelta(hours=1))
            )
    async with db.write() as conn:
        await conn.execute(insert(payment_transactions), payments)
    await set_shot(db, shot_id, scheduled_at=NOW - timedelta(minutes=1))
    final = await wait_for_status(db, shot_id)
    return final, await _rows(db, shot_id)


async def test_winner_mode_sends_the_better_variant_to_the_rest(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """A clearly better B wins and goes to the remainder; the decision keeps its numbers."""
    final, rows = await _winner_test(db, sim, start_worker, every_b=3)
    assert final["status"] == "sent"
    decision = final["winner_decision"]
    assert decision["winner"] == "B"
    assert decision["reason"] == "significant"
    assert decision["difference"]["low"] > 0
    assert {a["name"] for a in decision["arms"]} == {"A", "B"}
    assert "test_ended_at" in decision
    assert "decided_at" in decision
    assert Counter(r["variant"] for r in rows)["B"] > 1500
    assert {r["status"] for r in rows} == {"sent"}


async def test_winner_mode_falls_back_to_a_when_inconclusive(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """The same true rate in both variants: not significant, variant A goes to the rest."""
    final, rows = await _winner_test(db, sim, start_worker, every_b=20)
    decision = final["winner_decision"]
    assert decision["winner"] == "A"
    assert decision["reason"] == "not_significant"
    assert Counter(r["variant"] for r in rows)["A"] > 1500


async def test_the_database_buckets_as_python_does(db: Database) -> None:
    """`bucket_of` in SQL equals `domain.experiment.bucket` for small, large and negative ids."""
    ids = [1, 2, 999_983, 1_000_003, 2**40 + 5, 2**52 - 1, 7_000_000_001, -5, -1_000_004]
    async with db.read() as conn:
        for shot_id in (1, 9972, 123_456_789):
            found = [
                await conn.scalar(select(bucket_of(shot_id, literal(tid, BigInteger))))
                for tid in ids
            ]
            assert found == [bucket(shot_id, tid) for tid in ids]


async def test_sqlite_triggers_name_their_index(db: Database) -> None:
    """SQLite has no statistics until ANALYZE: each trigger names the index of its lookup, so
    the planner cannot take the bot's recent deliveries (idx_shots_sent_slug_time) instead."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL plans each statement trigger's run with its row counts")
    async with db.read() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
            " AND name LIKE '%conversions%'"
        )
        found = dict(rows.all())
    assert len(found) == 4
    for sql in found.values():
        assert "INDEXED BY idx_shots_sent_contact" in sql
        assert "INDEXED BY idx_shots_sent_turn" in sql


async def test_a_refund_or_a_deleted_payment_keeps_the_conversion(db: Database) -> None:
    """As docs/api.md says: revenue is not taken back by a refund, nor by a deletion."""
    shot_id, at = await _exposed(db)
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions), [_payment(7, "r", at + timedelta(hours=1))]
        )
        await conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.external_id == "r")
            .values(status="refunded")
        )
    assert (await _conversions(db, shot_id))["paid"][1:3] == (PRICE, 1)
    async with db.write() as conn:
        await conn.execute(
            payment_transactions.delete().where(payment_transactions.c.external_id == "r")
        )
    assert (await _conversions(db, shot_id))["paid"][1:3] == (PRICE, 1)
