"""A bot's report over a period: totals, days, the best hours and its shots, from the hourly
rollup (`report_hours`: per shot and UTC hour of delivery).

Everything counts at the hour of the delivery it follows (a cohort view): the clicks, replies,
PIX and sales of a day are those of the messages delivered that day, so every rate has its own
deliveries as denominator. Days and hours are the bot's local ones (`tz`); an hour bucket is
placed by its start, exact for every zone whose offset is a whole number of hours.

The best hour is recommended only when the data support it: at least MIN_HOUR_DELIVERIES
deliveries in each compared hour and MIN_EVENTS clicks (or sales) in all, and the best hour's
rate above the other hours' together by more than its uncertainty: the lower end of Newcombe's
interval for the difference, at 95 % split over the hours compared (Bonferroni), above zero.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from disparo.domain.stats import Interval, rate, rate_difference

MIN_HOUR_DELIVERIES = 200
MIN_EVENTS = 30
CONFIDENCE = 0.95


@dataclass(slots=True)
class Counts:
    """What the rollup adds up, for any group of its rows."""

    recipients: int = 0
    delivered: int = 0
    blocked: int = 0
    deactivated: int = 0
    clicks: int = 0
    clicked: int = 0
    replies: int = 0
    pix: int = 0
    paid: int = 0
    revenue_cents: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class HourRow:
    """One rollup row: a shot's deliveries of one UTC hour and what followed them."""

    shot_id: int
    hour: datetime
    counts: Counts


@dataclass(frozen=True, slots=True)
class ShotInfo:
    """What the shots table shows of a shot besides its counts."""

    id: int
    copy: str
    status: str
    started_at: datetime | None
    audience: int | None


def snippet(copy: str, length: int = 80) -> str:
    """The copy's first `length` visible characters (tags dropped, entities read)."""
    text = " ".join(html.unescape(re.sub(r"<[^>]*>", "", copy)).split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def figures(counts: Counts, shots: int) -> dict[str, Any]:
    """The figures of a day or of the period."""
    c = counts
    return {
        "shots": shots,
        "recipients": c.recipients,
        "delivered": c.delivered,
        "delivery_rate": _share(c.delivered, c.recipients),
        "blocked": c.blocked,
        "deactivated": c.deactivated,
        "block_rate": _share(c.blocked + c.deactivated, c.delivered),
        "clicks": c.clicks,
        "clicked": c.clicked,
        "click_rate": _share(c.clicked, c.delivered),
        "replies": c.replies,
        "reply_rate": _share(c.replies, c.delivered),
        "pix": c.pix,
        "paid": c.paid,
        "revenue_cents": c.revenue_cents,
    }


def _interval(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval | None:
    return rate(min(successes, n), n, confidence)


def _json(interval: Interval | None) -> dict[str, float] | None:
    return interval.as_json() if interval else None


@dataclass
class _Cell:
    delivered: int = 0
    clicked: int = 0
    paid: int = 0


def recommendation(by_hour: dict[int, _Cell]) -> tuple[dict[str, Any] | None, str | None]:
    """The best local hour and its numbers, or None with why ("too_few_deliveries",
    "no_clear_difference")."""
    eligible = {h: c for h, c in by_hour.items() if c.delivered >= MIN_HOUR_DELIVERIES}
    total = _Cell()
    for cell in eligible.values():
        total.delivered += cell.delivered
        total.clicked += min(cell.clicked, cell.delivered)
        total.paid += min(cell.paid, cell.delivered)
    if len(eligible) < 2:
        return None, "too_few_deliveries"
    metric = "click_rate" if total.clicked >= MIN_EVENTS else "paid_rate"
    if metric == "paid_rate" and total.paid < MIN_EVENTS:
        return None, "too_few_deliveries"

    def hits(cell: _Cell) -> int:
        return min(cell.clicked if metric == "click_rate" else cell.paid, cell.delivered)

    best = max(sorted(eligible), key=lambda h: hits(eligible[h]) / eligible[h].delivered)
    cell = eligible[best]
    others_n = total.delivered - cell.delivered
    others_x = (total.clicked if metric == "click_rate" else total.paid) - hits(cell)
    adjusted = 1 - (1 - CONFIDENCE) / len(eligible)
    difference = rate_difference(hits(cell), cell.delivered, others_x, others_n, adjusted)
    if difference is None or difference.low <= 0:
        return None, "no_clear_difference"
    return {
        "hour": best,
        "metric": metric,
        "delivered": cell.delivered,
        "rate": _json(_interval(hits(cell), cell.delivered)),
        "others_rate": _json(_interval(others_x, others_n)),
        "difference": difference.as_json(),
        "confidence": adjusted,
    }, None


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def build(
    *,
    bot_slug: str,
    start: date,
    end: date,
    timezone: str,
    rows: Iterable[HourRow],
    started: Sequence[datetime],
    shots: dict[int, ShotInfo],
    tracking: dict[str, Any],
) -> dict[str, Any]:
    """The report's JSON body. `started`: when each of the bot's shots of the period started."""
    zone = ZoneInfo(timezone)
    days = {day: Counts() for day in _days(start, end)}
    shots_by_day = dict.fromkeys(days, 0)
    for at in started:
        local = at.astimezone(zone).date()
        if local in shots_by_day:
            shots_by_day[local] += 1
    total = Counts()
    cells: dict[tuple[int, int], _Cell] = {}
    by_hour: dict[int, _Cell] = {}
    per_shot: dict[int, Counts] = {}
    for row in rows:
        local = row.hour.astimezone(zone)
        if local.date() not in days:
            continue
        days[local.date()].add(row.counts)
        total.add(row.counts)
        per_shot.setdefault(row.shot_id, Counts()).add(row.counts)
        for cell in (
            cells.setdefault((local.weekday(), local.hour), _Cell()),
            by_hour.setdefault(local.hour, _Cell()),
        ):
            cell.delivered += row.counts.delivered
            cell.clicked += row.counts.clicked
            cell.paid += row.counts.paid
    advice, why_none = recommendation(by_hour)
    return {
        "bot_slug": bot_slug,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "timezone": timezone,
        "tracking": tracking,
        "totals": figures(total, sum(shots_by_day.values())),
        "days": [
            {"date": day.isoformat(), **figures(counts, shots_by_day[day])}
            for day, counts in days.items()
        ],
        "best_hours": {
            "cells": [
                {
                    "weekday": weekday,
                    "hour": hour,
                    "delivered": cell.delivered,
                    "clicked": cell.clicked,
                    "paid": cell.paid,
                    "click_rate": _json(_interval(cell.clicked, cell.delivered)),
                    "paid_rate": _json(_interval(cell.paid, cell.delivered)),
                }
                for (weekday, hour), cell in sorted(cells.items())
                if cell.delivered
            ],
            "recommendation": advice,
            "why_none": why_none,
        },
        "shots": ranked_shots(per_shot, shots),
    }


def ranked_shots(per_shot: dict[int, Counts], shots: dict[int, ShotInfo]) -> list[dict[str, Any]]:
    """The period's shots with their funnels, by revenue per recipient (most first)."""
    table = []
    for shot_id, counts in per_shot.items():
        info = shots.get(shot_id)
        if info is None:
            continue
        per_recipient = counts.revenue_cents / counts.recipients if counts.recipients else None
        table.append(
            {
                "id": shot_id,
                "copy": snippet(info.copy),
                "status": info.status,
                "started_at": info.started_at,
                "audience": info.audience,
                "recipients": counts.recipients,
                "delivered": counts.delivered,
                "clicked": counts.clicked,
                "replies": counts.replies,
                "pix": counts.pix,
                "paid": counts.paid,
                "revenue_cents": counts.revenue_cents,
                "revenue_per_recipient_cents": per_recipient,
            }
        )

    def order(row: dict[str, Any]) -> tuple[bool, float, int]:
        value = row["revenue_per_recipient_cents"]
        return value is None, -(value or 0.0), -int(row["id"])

    table.sort(key=order)
    return table
