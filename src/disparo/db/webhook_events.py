"""Writing outgoing webhook events into the outbox, inside the transaction of the change each
reports (a shot started or ended, a contact became unreachable). Conversions are written by the
trigger of migration 0009.

Each writer first asks which endpoints want the event (one look at a tiny table) and writes
nothing more when none does, so a deployment without webhooks pays almost nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import shots_queue, shots_sent, telegram_contacts
from disparo.db.tables_webhooks import webhook_deliveries, webhook_endpoints
from disparo.domain.statuses import DeliveryStatus, ShotStatus
from disparo.domain.webhooks import DeliveryState, EventType, events_list, iso

e = webhook_endpoints.c
q = shots_queue.c
FINISHED = (ShotStatus.SENT.value, ShotStatus.CANCELLED.value, ShotStatus.EXPIRED.value)
TOTALS = tuple(status.value for status in DeliveryStatus if status is not DeliveryStatus.SENDING)


@dataclass(frozen=True, slots=True)
class Event:
    """One event for the endpoints of a bot that want its type."""

    type: EventType
    bot_slug: str
    data: dict[str, Any]


def new_event_id() -> str:
    """An idempotency id: the same on every attempt of one delivery."""
    return "evt_" + uuid.uuid4().hex


async def _subscribers(
    conn: AsyncConnection, bot_slugs: Collection[str]
) -> list[tuple[int, str | None, list[str]]]:
    """(id, bot_slug, event types) of the endpoints of these bots or of every bot."""
    query = select(e.id, e.bot_slug, e.events).where(
        or_(e.bot_slug.is_(None), e.bot_slug.in_(list(bot_slugs)))
    )
    return [(row.id, row.bot_slug, events_list(row.events)) for row in await conn.execute(query)]


async def wanted(
    conn: AsyncConnection, types: Collection[EventType], bot_slugs: Collection[str]
) -> bool:
    """True when some endpoint wants one of `types` of one of these bots."""
    return any(
        t.value in events
        for _id, _slug, events in await _subscribers(conn, bot_slugs)
        for t in types
    )


async def write_events(conn: AsyncConnection, events: Sequence[Event], *, now: datetime) -> int:
    """Put `events` in the outbox for each endpoint that wants them; how many rows."""
    if not events:
        return 0
    subscribers = await _subscribers(conn, {event.bot_slug for event in events})
    rows = [
        {
            "endpoint_id": endpoint_id,
            "event_id": new_event_id(),
            "type": event.type.value,
            "data": event.data,
            "created_at": now,
            "status": DeliveryState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for event in events
        for endpoint_id, slug, types in subscribers
        if event.type.value in types and slug in (None, event.bot_slug)
    ]
    if rows:
        await conn.execute(insert(webhook_deliveries), rows)
    return len(rows)


async def record_shots_started(
    conn: AsyncConnection, shots: Iterable[Any], *, now: datetime
) -> None:
    """`shot.started` for the claimed shots whose first claim this is (`started_at` is now)."""
    started = [shot for shot in shots if shot.started_at == now]
    if not started or not await wanted(
        conn, (EventType.SHOT_STARTED,), {shot.bot_slug for shot in started}
    ):
        return
    events = [
        Event(
            EventType.SHOT_STARTED,
            shot.bot_slug,
            {
                "shot_id": shot.id,
                "bot_slug": shot.bot_slug,
                "target": shot.target,
                "scheduled_at": iso(shot.scheduled_at),
                "started_at": iso(shot.started_at),
            },
        )
        for shot in started
    ]
    await write_events(conn, events, now=now)


async def _totals(conn: AsyncConnection, shot_ids: list[int]) -> dict[int, dict[str, int]]:
    s = shots_sent.c
    query = (
        select(s.shot_id, s.status, func.count())
        .where(s.shot_id.in_(shot_ids))
        .group_by(s.shot_id, s.status)
    )
    totals = {shot_id: dict.fromkeys(TOTALS, 0) for shot_id in shot_ids}
    for shot_id, status, count in await conn.execute(query):
        totals[shot_id][str(status)] = int(count)
    return totals


async def record_shots_ended(
    conn: AsyncConnection, shot_ids: Collection[int], *, now: datetime
) -> None:
    """`shot.finished` (sent, cancelled or expired, once started) or `shot.failed` (error) for
    the shots among `shot_ids` that are over now and held by no worker, with their totals."""
    if not shot_ids:
        return
    query = select(
        q.id, q.bot_slug, q.status, q.last_error, q.started_at, q.finished_at, q.audience_total
    ).where(q.id.in_(list(shot_ids)), q.locked_by.is_(None))
    ended = [
        row
        for row in (await conn.execute(query)).all()
        if row.status == ShotStatus.ERROR.value
        or (row.status in FINISHED and row.started_at is not None)
    ]
    types = (EventType.SHOT_FINISHED, EventType.SHOT_FAILED)
    if not ended or not await wanted(conn, types, {row.bot_slug for row in ended}):
        return
    totals = await _totals(conn, [row.id for row in ended])
    events = []
    for row in ended:
        counts = totals[row.id]
        data = {
            "shot_id": row.id,
            "bot_slug": row.bot_slug,
            "status": row.status,
            "started_at": iso(row.started_at) if row.started_at else None,
            "finished_at": iso(row.finished_at or now),
            "last_error": row.last_error,
            "totals": {"total": row.audience_total or sum(counts.values()), **counts},
        }
        failed = row.status == ShotStatus.ERROR.value
        events.append(
            Event(EventType.SHOT_FAILED if failed else EventType.SHOT_FINISHED, row.bot_slug, data)
        )
    await write_events(conn, events, now=now)


async def record_contacts_unreachable(
    conn: AsyncConnection,
    changes: Sequence[tuple[str, int, str]],
    *,
    now: datetime,
    source: str,
    shot_ids: Mapping[int, int] | None = None,
    unknown_counts: bool = False,
) -> None:
    """`contact.blocked` / `contact.deactivated` for the (bot_slug, telegram_id, chat_state)
    changes that change a contact's state; called before the contact rows are updated.

    `source`: `send` (a delivery found it out) or `update` (Telegram told us); `shot_ids`: the
    shot whose delivery found it, by telegram_id; `unknown_counts`: a contact not stored yet
    counts as a change (an update creates it).
    """
    types = {EventType(f"contact.{state}") for _slug, _id, state in changes}
    if not await wanted(conn, types, {slug for slug, _id, _state in changes}):
        return
    t = telegram_contacts.c
    keys = [(slug, telegram_id) for slug, telegram_id, _state in changes]
    current_query = (
        select(t.bot_slug, t.telegram_id, t.chat_state)
        .where(tuple_(t.bot_slug, t.telegram_id).in_(keys))
        .with_for_update()
    )
    current = {(r.bot_slug, r.telegram_id): r.chat_state for r in await conn.execute(current_query)}
    events = []
    for slug, telegram_id, state in changes:
        before = current.get((slug, telegram_id))
        if before == state or (before is None and not unknown_counts):
            continue
        data = {
            "bot_slug": slug,
            "telegram_id": telegram_id,
            "chat_state": state,
            "at": iso(now),
            "source": source,
            "shot_id": (shot_ids or {}).get(telegram_id),
        }
        events.append(Event(EventType(f"contact.{state}"), slug, data))
    await write_events(conn, events, now=now)
