"""What a shot sold: its conversion report (groups, rates, lifts against the holdout, one
sentence) and the per-recipient CSV (docs/api.md, A/B tests and conversions)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from disparo.api.deps import DB, Now, ShotId
from disparo.api.errors import ERROR_RESPONSES, described, not_found
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.views import timeline_bucket_s
from disparo.db import conversions as queries
from disparo.db import shots as shot_queries
from disparo.db.experiment import goals_of
from disparo.db.shots import ShotRecord
from disparo.domain.conversion_report import ALL, UNDECIDED, group_json, summary
from disparo.domain.experiment import HOLDOUT

router = APIRouter(
    prefix=ADMIN_PREFIX, tags=["conversions"], responses=ERROR_RESPONSES, dependencies=ADMIN
)
_NOT_FOUND = described(404, "no such shot")
CSV_PAGE = 5000
_ORDER = {HOLDOUT: 2, UNDECIDED: 1}


def _unassigned(shot: ShotRecord) -> str:
    """What recipients without a variant are: winner mode's remainder before the decision,
    or every recipient of a shot without variants."""
    decided = isinstance(shot.winner_decision, dict) and "winner" in shot.winner_decision
    return UNDECIDED if shot.winner is not None and not decided else ALL


def _iso(when: datetime | None) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else ""


@router.get("/shots/{shot_id}/conversions", summary="What a shot sold", responses=_NOT_FOUND)
async def shot_conversions(shot_id: ShotId, db: DB, now: Now) -> dict[str, Any]:
    """Per group (each variant, `all` without variants, `holdout`): recipients, delivered,
    conversions and rate per event with 95 % intervals, revenue and revenue per recipient, and
    the lift against the holdout (absolute and relative) with 95 % intervals; one sentence in
    pt-BR and English; conversions of the primary event over time."""
    async with db.read() as conn:
        shot = await shot_queries.get_shot(conn, shot_id)
        if shot is None:
            raise not_found(f"shot {shot_id}")
        goals = (await goals_of(conn, [shot_id])).get(shot_id, ())
        unassigned = _unassigned(shot)
        facts = await queries.group_facts(conn, shot_id, unassigned=unassigned)
        events = [g.event for g in goals]
        longest = max((g.window_hours for g in goals), default=0)
        closes = shot.finished_at + timedelta(hours=longest) if shot.finished_at else None
        start = shot.started_at or now
        until = min(now, closes) if closes else now
        bucket_s = timeline_bucket_s(start, until)
        series = (
            await queries.conversion_series(
                conn, shot_id, events[0], bucket_s=bucket_s, unassigned=unassigned
            )
            if events
            else []
        )
    holdout = facts.get(HOLDOUT)
    names = sorted(facts, key=lambda name: (_ORDER.get(name, 0), name))
    rows = [group_json(facts[name], events, holdout) for name in names]
    has_holdout = holdout is not None and holdout.recipients > 0
    return {
        "shot_id": shot.id,
        "status": shot.status,
        "as_of": _iso(now),
        "primary": events[0] if events else None,
        "events": [{"event": g.event, "window_hours": g.window_hours} for g in goals],
        "windows_close_at": _iso(closes) or None,
        "has_holdout": has_holdout,
        "revenue_event": "paid" in events,
        "groups": rows,
        "summary": summary(rows, events, has_holdout),
        "winner": shot.winner,
        "winner_decision": shot.winner_decision,
        "series": {
            "bucket_s": bucket_s,
            "event": events[0] if events else None,
            "points": [
                {
                    "t": _iso(datetime.fromtimestamp(t, UTC)),
                    "group": g,
                    "conversions": n,
                    "revenue_cents": cents,
                }
                for t, g, n, cents in series
            ],
        },
    }


@router.get(
    "/shots/{shot_id}/conversions.csv",
    summary="Export a shot's recipients and their conversions as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **_NOT_FOUND},
)
async def export_conversions(shot_id: ShotId, db: DB) -> StreamingResponse:
    """Every recipient in send order: group, status, when the shot reached them (sent_at, or
    a holdout member's turn), each conversion event's time (empty: none) and the revenue."""
    async with db.read() as conn:
        if await shot_queries.get_shot(conn, shot_id) is None:
            raise not_found(f"shot {shot_id}")
        events = [g.event for g in (await goals_of(conn, [shot_id])).get(shot_id, ())]

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        header = ["telegram_id", "group", "status", "reached_at"]
        writer.writerow([*header, *(f"{e}_at" for e in events), "revenue_cents"])
        after: int | None = 0
        while after is not None:
            async with db.read() as conn:
                page, after = await queries.recipient_page(
                    conn, shot_id, events, after=after, limit=CSV_PAGE
                )
            for telegram_id, variant, status, reached, *rest in page:
                *converted, revenue = rest
                writer.writerow(
                    [telegram_id, variant or "", status, _iso(reached)]
                    + [_iso(at) for at in converted]
                    + [revenue]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="shot-{shot_id}-conversions.csv"'},
    )
