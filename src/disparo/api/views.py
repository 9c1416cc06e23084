"""Records to response bodies: delivery counts, progress, ETA and the outcome timeline."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from disparo.api.errors import invalid
from disparo.api.experiment_schemas import GoalOut, VariantOut
from disparo.api.schemas import DeliveryCounts, ShotOut, TimelinePoint
from disparo.db.shots import ShotRecord
from disparo.domain.experiment import Goal, Variant
from disparo.domain.statuses import FINAL_SHOT_STATUSES, DeliveryStatus, MediaType, ShotStatus

MAX_TIMELINE_POINTS = 300
# Bucket widths tried in order: 1 s for short shots, a minute for hour-long ones, wider
# only past five hours so the chart never has more than MAX_TIMELINE_POINTS points.
_BUCKETS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 21600, 86400)
_FINAL_DELIVERY = ("sent", "skipped", "error", "unknown", "holdout")


_CURSOR_PATTERN = r"^[0-9]{1,18}$"
_CURSOR = re.compile(_CURSOR_PATTERN)
# The `cursor` query parameter as OpenAPI shows it: documented, checked by `page_cursor` (so
# the refusal names the parameter in our words, not in the validator's).
CURSOR_DOC: dict[str, Any] = {
    "description": "next_cursor of the previous page",
    "json_schema_extra": {"pattern": _CURSOR_PATTERN},
}


def page_cursor(raw: str | None) -> int | None:
    """The position a `next_cursor` stands for; 422 on `cursor` if it is not one of ours."""
    if raw is None:
        return None
    if not _CURSOR.fullmatch(raw):
        raise invalid("cursor", "cursor must be the next_cursor value of the previous page")
    return int(raw)


def delivery_counts(
    counts: Mapping[str, int],
    audience_total: int | None,
    status: str,
    audience_complete: bool = True,
) -> DeliveryCounts:
    """A shot's counts by status, its total and progress (0..1)."""
    by_status = {s.value: int(counts.get(s.value, 0)) for s in DeliveryStatus}
    total = max(audience_total or 0, sum(by_status.values()))
    finished = sum(by_status[s] for s in _FINAL_DELIVERY)
    if total:
        progress = min(1.0, finished / total)
    else:
        progress = 1.0 if ShotStatus(status) in FINAL_SHOT_STATUSES else 0.0
    return DeliveryCounts(
        total=total, progress=progress, audience_complete=audience_complete, **by_status
    )


def shot_out(
    shot: ShotRecord,
    counts: Mapping[str, int],
    *,
    quiet_until: datetime | None = None,
    variants: Sequence[Variant] = (),
    goals: Sequence[Goal] = (),
) -> ShotOut:
    """The response body of a shot."""
    return ShotOut(
        variants=[
            VariantOut(
                name=v.name,
                copy=v.copy,
                media_type=MediaType(v.media_type),
                media_url=v.media_url,
                buttons=v.buttons,
                weight=v.weight,
            )
            for v in variants
        ],
        conversions=[GoalOut(event=g.event, window_hours=g.window_hours) for g in goals],
        holdout_percent=shot.holdout_percent,
        winner=shot.winner,
        winner_decision=shot.winner_decision,
        id=shot.id,
        bot_slug=shot.bot_slug,
        target=shot.target,
        recency_days=shot.recency_days,
        copy=shot.copy,
        media_url=shot.media_url,
        media_type=shot.media_type,
        buttons=shot.buttons,
        scheduled_at=shot.scheduled_at,
        status=shot.status,
        attempt_count=shot.attempt_count,
        last_error=shot.last_error,
        started_at=shot.started_at,
        finished_at=shot.finished_at,
        created_at=shot.created_at,
        updated_at=shot.updated_at,
        filter=shot.filter,
        segment_id=shot.segment_id,
        expires_at=shot.expires_at,
        stop_on=shot.stop_on,
        ignore_frequency_cap=shot.ignore_frequency_cap,
        templated=shot.templated,
        track_clicks=shot.track_clicks,
        track_copy_links=shot.track_copy_links,
        quiet_until=quiet_until,
        stats=delivery_counts(counts, shot.audience_total, shot.status, shot.audience_complete),
    )


def timeline_bucket_s(started_at: datetime | None, until: datetime) -> int:
    """The narrowest bucket that keeps the chart of [started_at, until] within the cap."""
    if started_at is None:
        return _BUCKETS_S[0]
    span_s = max(0.0, (until - started_at).total_seconds())
    for bucket_s in _BUCKETS_S:
        if span_s / bucket_s < MAX_TIMELINE_POINTS:
            return bucket_s
    return _BUCKETS_S[-1]


def timeline_points(
    rows: Sequence[tuple[int, str, int]],
    *,
    bucket_s: int,
    started_at: datetime | None,
    until: datetime,
) -> list[TimelinePoint]:
    """One point per bucket from the start to `until` (empty buckets included)."""
    if started_at is None and not rows:
        return []
    found: dict[int, dict[str, int]] = {}
    for bucket, status, count in rows:
        found.setdefault(bucket, {})[status] = count
    first = int(started_at.timestamp()) // bucket_s * bucket_s if started_at else min(found)
    last = max(int(until.timestamp()) // bucket_s * bucket_s, max(found, default=first))
    first = min(first, min(found, default=first))
    points = []
    for bucket in range(first, last + 1, bucket_s):
        counts = found.get(bucket, {})
        points.append(
            TimelinePoint(
                t=datetime.fromtimestamp(bucket, UTC),
                **{status: counts.get(status, 0) for status in _FINAL_DELIVERY},
            )
        )
    return points[-MAX_TIMELINE_POINTS - 1 :]
