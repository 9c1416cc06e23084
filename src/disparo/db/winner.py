"""Winner mode in the database: the test share's end (the shot waits, pending, until its
decision is due) and the decision taken when a worker claims it again.

The decision reads what the report reads: each variant's test recipients and their primary
conversions (`shot_conversions`), and hands them to `domain.stats.decide_winner`. The remainder
(variant NULL) then gets the winner's name, and is reserved like any recipient from then on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.experiment import goals_of, variants_of
from disparo.db.tables import shots_queue, shots_sent
from disparo.db.tables_campaign import shot_conversions
from disparo.domain.stats import Arm, decide_winner
from disparo.domain.statuses import DeliveryStatus, ShotStatus

s = shots_sent.c
q = shots_queue.c
c = shot_conversions.c
PENDING = DeliveryStatus.PENDING.value


def _iso(when: datetime) -> str:
    return when.isoformat()


async def wait_for_winner(conn: AsyncConnection, shot_id: int, *, now: datetime) -> bool:
    """If the shot is in winner mode, undecided, and its remainder is still pending: hand it
    back pending until the decision is due (`wait_hours` from now); True when it did."""
    row = (await conn.execute(select(q.winner, q.winner_decision).where(q.id == shot_id))).first()
    if row is None or not isinstance(row.winner, dict) or _decided(row.winner_decision):
        return False
    waiting = select(func.count()).where(
        s.shot_id == shot_id, s.status == PENDING, s.variant.is_(None)
    )
    if not await conn.scalar(waiting):
        return False
    decide_at = now + timedelta(hours=int(row.winner["wait_hours"]))
    await conn.execute(
        update(shots_queue)
        .where(q.id == shot_id)
        .values(
            status=ShotStatus.PENDING.value,
            scheduled_at=decide_at,
            winner_decision={"test_ended_at": _iso(now), "decide_at": _iso(decide_at)},
            locked_by=None,
            lease_expires_at=None,
            updated_at=now,
        )
    )
    return True


async def _by_variant(conn: AsyncConnection, query: Any) -> dict[str, int]:
    rows = await conn.execute(query.group_by(query.selected_columns[0]))
    return {str(variant): int(count) for variant, count in rows}


def _decided(decision: Any) -> bool:
    return isinstance(decision, dict) and "winner" in decision


async def decide(conn: AsyncConnection, shot_id: int, *, now: datetime) -> dict[str, Any] | None:
    """Take the decision of a claimed shot whose test ended (None: not such a shot): the
    winner, why, each variant's numbers; the remainder gets the winner."""
    row = (await conn.execute(select(q.winner, q.winner_decision).where(q.id == shot_id))).first()
    if (
        row is None
        or not isinstance(row.winner, dict)
        or not isinstance(row.winner_decision, dict)
        or _decided(row.winner_decision)
    ):
        return None
    names = [v.name for v in (await variants_of(conn, [shot_id])).get(shot_id, ())]
    goals = (await goals_of(conn, [shot_id])).get(shot_id, ())
    recipients = await _by_variant(
        conn, select(s.variant, func.count()).where(s.shot_id == shot_id, s.variant.in_(names))
    )
    converted: dict[str, int] = {}
    if goals:
        query = select(c.variant, func.count()).where(
            c.shot_id == shot_id, c.event == goals[0].event, c.variant.in_(names)
        )
        converted = await _by_variant(conn, query)
    arms = [Arm(name, int(converted.get(name, 0)), int(recipients.get(name, 0))) for name in names]
    choice = decide_winner(arms, min_sample=int(row.winner["min_sample"]), fallback=names[0])
    decision = {
        **row.winner_decision,
        "winner": choice.winner,
        "reason": choice.reason,
        "best": choice.best,
        "event": goals[0].event if goals else None,
        "arms": [
            {"name": a.name, "recipients": a.recipients, "conversions": a.conversions} for a in arms
        ],
        "rates": choice.rates,
        "difference": None if choice.difference is None else choice.difference.as_json(),
        "decided_at": _iso(now),
    }
    await conn.execute(
        update(shots_sent)
        .where(s.shot_id == shot_id, s.variant.is_(None))
        .values(variant=choice.winner)
    )
    await conn.execute(
        update(shots_queue).where(q.id == shot_id).values(winner_decision=decision, updated_at=now)
    )
    return decision
