"""The hourly rollup behind the bot report, kept by the triggers of migration 0008, against a
hand-computed fixture on both backends: outcomes, clicks, replies, PIX, sales and revenue
counted at the hour of the delivery they follow; a holdout member and a cancelled skip never."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from worker_support import add_bot, add_contacts, add_shot

from disparo.db.bot_report import hour_rows, shot_infos, starts
from disparo.db.deliveries import DeliveryOutcome
from disparo.db.engine import Database
from disparo.db.experiment import write_experiment
from disparo.db.links import Click, record_clicks, record_reply
from disparo.db.outcomes import mark_sending_unknown, record_outcomes
from disparo.db.tables import funnel_events, payment_transactions, shots_queue, shots_sent
from disparo.db.tables_campaign import report_hours
from disparo.domain.bot_report import build
from disparo.domain.experiment import Goal

NOW = datetime(2026, 11, 3, 14, 30, tzinfo=UTC)  # 11:30 in São Paulo, a Tuesday
H1 = NOW.replace(minute=5)  # first hour of deliveries: 14:00 UTC
H2 = H1 + timedelta(hours=1)  # second: 15:00 UTC
PRICE = 4990


async def _deliveries(db: Database, shot_id: int, statuses: dict[int, str]) -> None:
    rows = [
        {"shot_id": shot_id, "bot_slug": "loja", "telegram_id": tid, "seq": i, "status": status}
        for i, (tid, status) in enumerate(sorted(statuses.items()))
    ]
    async with db.write() as conn:
        await conn.execute(insert(shots_sent), rows)


def _sent(shot_id: int, tid: int, at: datetime) -> DeliveryOutcome:
    return DeliveryOutcome(shot_id, tid, "sent", message_id=tid, sent_at=at)


async def _scene(db: Database) -> int:
    """Ten recipients: 1–4 delivered at 14h, 5–6 at 15h, 7 blocked and 8 deactivated (14h),
    9 unknown, 10 a holdout member, 11 a cancelled skip. Clicks: 1 twice, 2 once, 5 once.
    Replies: 1 and 5 (and 1 again). PIX by 1, 2, 5; paid by 1 (twice) and 5."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 12))
    shot_id = await add_shot(db, "loja", status="running")
    async with db.write() as conn:
        await write_experiment(
            conn, shot_id, "loja", goals=(Goal("paid", 72), Goal("pix_created", 72))
        )
        await conn.execute(
            update(shots_queue).where(shots_queue.c.id == shot_id).values(started_at=H1)
        )
    statuses = dict.fromkeys(range(1, 10), "sending") | {10: "holdout", 11: "pending"}
    await _deliveries(db, shot_id, statuses)
    outcomes = [_sent(shot_id, t, H1 + timedelta(minutes=t)) for t in (1, 2, 3, 4)]
    outcomes += [_sent(shot_id, t, H2 + timedelta(minutes=t)) for t in (5, 6)]
    outcomes += [
        DeliveryOutcome(shot_id, 7, "skipped", reason="blocked"),
        DeliveryOutcome(shot_id, 8, "skipped", reason="deactivated"),
    ]
    await record_outcomes(db, outcomes, now=H1 + timedelta(minutes=20))
    # The same outcome again (a retried write) changes nothing: only `sending` rows move.
    await record_outcomes(db, outcomes[:1], now=H1 + timedelta(minutes=21))
    async with db.write() as conn:
        await mark_sending_unknown(conn, shot_id, now=H1 + timedelta(minutes=30))
        await conn.execute(
            update(shots_sent)
            .where(shots_sent.c.shot_id == shot_id, shots_sent.c.status == "pending")
            .values(status="skipped", reason="cancelled", updated_at=H2)
        )
    later = H2 + timedelta(hours=2)
    await record_clicks(
        db,
        [Click(shot_id, t, None, 0, later) for t in (1, 1, 2, 5)]
        + [Click(shot_id, 99, None, 0, later)],  # no such delivery: not recorded
    )
    async with db.write() as conn:
        for tid in (1, 5, 1):
            await record_reply(conn, "loja", tid, now=later)
        await record_reply(conn, "loja", 2, now=H1 + timedelta(days=2))  # past 24 h: none
        await conn.execute(
            insert(funnel_events),
            [
                {"bot_slug": "loja", "telegram_id": t, "event": "pix_created", "occurred_at": later}
                for t in (1, 2, 5)
            ],
        )
        await conn.execute(
            insert(payment_transactions),
            [
                {
                    "bot_slug": "loja",
                    "telegram_id": t,
                    "external_id": f"p{t}-{n}",
                    "status": "paid",
                    "amount_cents": PRICE,
                    "created_at": later,
                    "paid_at": later + timedelta(minutes=n),
                }
                for t, n in ((1, 1), (1, 2), (5, 1))
            ],
        )
    return shot_id


def _hours(rows: list[Any]) -> dict[datetime, dict[str, int]]:
    """The non-zero counts of each hour."""
    return {row.hour: {k: v for k, v in asdict(row.counts).items() if v} for row in rows}


async def test_the_rollup_counts_what_happened_at_the_hour_of_delivery(db: Database) -> None:
    """Every figure by hand: recipients exclude the holdout member and the cancelled skip;
    clicks count all, clicked and replies once per recipient; PIX, sales and revenue land at
    the hour their buyer's message was delivered."""
    shot_id = await _scene(db)
    async with db.read() as conn:
        rows = await hour_rows(conn, "loja", H1 - timedelta(hours=1), H2 + timedelta(hours=1))
    assert _hours(rows) == {
        H1.replace(minute=0): {
            "recipients": 7,  # 1–4 sent, 7 blocked, 8 deactivated (at 14:20), 9 unknown (14:30)
            "delivered": 4,
            "blocked": 1,
            "deactivated": 1,
            "clicks": 3,
            "clicked": 2,
            "replies": 1,
            "pix": 2,
            "paid": 1,
            "revenue_cents": 2 * PRICE,
        },
        H2.replace(minute=0): {
            "recipients": 2,
            "delivered": 2,
            "clicks": 1,
            "clicked": 1,
            "replies": 1,
            "pix": 1,
            "paid": 1,
            "revenue_cents": PRICE,
        },
    }
    async with db.read() as conn:
        stored = (await conn.execute(select(report_hours.c.shot_id, report_hours.c.bot_slug))).all()
    assert set(stored) == {(shot_id, "loja")}


async def test_the_report_of_the_scene(db: Database) -> None:
    """Totals, the local day and the shot's funnel of the scene, in São Paulo's time."""
    shot_id = await _scene(db)
    start = end = date(2026, 11, 3)
    async with db.read() as conn:
        first, after = H1 - timedelta(days=1), H1 + timedelta(days=1)
        rows = await hour_rows(conn, "loja", first, after)
        started = await starts(conn, "loja", first, after)
        shots = await shot_infos(conn, {shot_id})
    report = build(
        bot_slug="loja",
        start=start,
        end=end,
        timezone="America/Sao_Paulo",
        rows=rows,
        started=started,
        shots=shots,
        tracking={"enabled": True, "reason": None},
    )
    totals = report["totals"]
    assert totals == {
        "shots": 1,
        "recipients": 9,
        "delivered": 6,
        "delivery_rate": 6 / 9,
        "blocked": 1,
        "deactivated": 1,
        "block_rate": 2 / 6,
        "clicks": 4,
        "clicked": 3,
        "click_rate": 3 / 6,
        "replies": 2,
        "reply_rate": 2 / 6,
        "pix": 3,
        "paid": 2,
        "revenue_cents": 3 * PRICE,
    }
    assert report["days"] == [{"date": "2026-11-03", **totals}]
    cells = {(c["weekday"], c["hour"]): c for c in report["best_hours"]["cells"]}
    assert set(cells) == {(1, 11), (1, 12)}  # Tuesday, 11h and 12h in São Paulo
    assert (cells[1, 11]["delivered"], cells[1, 11]["clicked"], cells[1, 11]["paid"]) == (4, 2, 1)
    assert cells[1, 11]["click_rate"]["value"] == 0.5
    assert report["best_hours"]["recommendation"] is None
    assert report["best_hours"]["why_none"] == "too_few_deliveries"
    [shot] = report["shots"]
    assert (shot["id"], shot["recipients"], shot["delivered"], shot["clicked"]) == (
        shot_id,
        9,
        6,
        3,
    )
    assert (shot["pix"], shot["paid"], shot["revenue_cents"]) == (3, 2, 3 * PRICE)
    assert shot["revenue_per_recipient_cents"] == 3 * PRICE / 9
