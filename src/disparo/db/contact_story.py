"""One contact's story (its events, payments and every shot it was in, with the outcome), and
deleting contacts: one, or every contact an explicit filter matches.

Deleting a contact removes what is about the person: the contact row, its tags (by the foreign
key), its funnel events and its payments. The deliveries of shots, clicks, replies and
conversions stay: they are the record of what each shot did, and the reports count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.contact_browse import ContactQuery, matching
from disparo.db.tables import (
    funnel_events,
    payment_transactions,
    shots_queue,
    shots_sent,
    telegram_contacts,
)
from disparo.db.tables_campaign import shot_conversions, shot_responses

c = telegram_contacts.c
sent = shots_sent.c
shots = shots_queue.c
SNIPPET_CHARS = 80


@dataclass(frozen=True, slots=True)
class Listed:
    """The newest rows of one kind (at most the limit asked) and how many there are."""

    items: list[dict[str, Any]]
    total: int


async def _listed(
    conn: AsyncConnection, rows: Select[Any], counted: Select[Any], limit: int
) -> Listed:
    items = [dict(row) for row in (await conn.execute(rows.limit(limit))).mappings()]
    return Listed(items=items, total=int(await conn.scalar(counted) or 0))


async def contact_fields(
    conn: AsyncConnection, bot_slug: str, telegram_id: int
) -> dict[str, Any] | None:
    """The contact's row (names, state and its times, attributes, paid total), or None."""
    query = select(telegram_contacts).where(c.bot_slug == bot_slug, c.telegram_id == telegram_id)
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row is not None else None


async def contact_events(
    conn: AsyncConnection, bot_slug: str, telegram_id: int, *, limit: int
) -> Listed:
    """The contact's funnel events, newest first."""
    e = funnel_events.c
    where = and_(e.bot_slug == bot_slug, e.telegram_id == telegram_id)
    rows = select(e.event, e.occurred_at).where(where).order_by(e.occurred_at.desc(), e.id.desc())
    return await _listed(conn, rows, select(func.count()).where(where), limit)


async def contact_payments(
    conn: AsyncConnection, bot_slug: str, telegram_id: int, *, limit: int
) -> Listed:
    """The contact's payments, newest first."""
    p = payment_transactions.c
    where = and_(p.bot_slug == bot_slug, p.telegram_id == telegram_id)
    rows = (
        select(p.external_id, p.status, p.amount_cents, p.currency, p.created_at, p.paid_at)
        .where(where)
        .order_by(p.created_at.desc(), p.id.desc())
    )
    return await _listed(conn, rows, select(func.count()).where(where), limit)


def _responded(kind: str) -> ColumnElement[bool]:
    r = shot_responses.c
    return exists().where(
        r.shot_id == sent.shot_id, r.kind == kind, r.telegram_id == sent.telegram_id
    )


async def contact_deliveries(
    conn: AsyncConnection, bot_slug: str, telegram_id: int, *, limit: int
) -> Listed:
    """Every shot of the bot the contact was in, newest shot first, with its outcome.

    Driven by the bot's shots, each probing the deliveries' primary key (shot_id, telegram_id):
    a contact's pending and skipped deliveries are in no index by contact."""
    conv = shot_conversions.c
    converted = (
        select(func.min(conv.converted_at))
        .where(conv.shot_id == sent.shot_id, conv.telegram_id == sent.telegram_id)
        .scalar_subquery()
    )
    joined = shots_queue.join(shots_sent, sent.shot_id == shots.id)
    where = and_(shots.bot_slug == bot_slug, sent.telegram_id == telegram_id)
    rows = (
        select(
            shots.id.label("shot_id"),
            func.substr(shots.copy, 1, SNIPPET_CHARS).label("copy"),
            shots.status.label("shot_status"),
            shots.scheduled_at,
            sent.status,
            sent.reason,
            sent.error,
            sent.variant,
            sent.sent_at,
            sent.updated_at,
            _responded("click").label("clicked"),
            _responded("reply").label("replied"),
            converted.label("converted_at"),
        )
        .select_from(joined)
        .where(where)
        .order_by(shots.id.desc())
    )
    counted = select(func.count()).select_from(joined).where(where)
    return await _listed(conn, rows, counted, limit)


async def _delete_people(conn: AsyncConnection, bot_slug: str, ids: Any) -> int:
    """Delete the contacts of `bot_slug` whose ids `ids` selects (a list or a subquery), with
    their events and payments; how many contacts."""
    for table in (funnel_events, payment_transactions):
        await conn.execute(
            delete(table).where(table.c.bot_slug == bot_slug, table.c.telegram_id.in_(ids))
        )
    result = await conn.execute(
        delete(telegram_contacts).where(c.bot_slug == bot_slug, c.telegram_id.in_(ids))
    )
    return int(result.rowcount or 0)


async def delete_contact(conn: AsyncConnection, bot_slug: str, telegram_id: int) -> bool:
    """Delete one contact (see the module's docstring); False when the bot has no such one."""
    return await _delete_people(conn, bot_slug, [telegram_id]) > 0


async def delete_matching(conn: AsyncConnection, query: ContactQuery, *, now: datetime) -> int:
    """Delete every contact the query matches; how many. The ids are listed first, so that
    deleting the events and payments does not change which contacts the filter matches."""
    found = select(c.telegram_id).where(matching(query, now=now, dialect=conn.dialect.name))
    ids = list((await conn.scalars(found)).all())
    deleted = 0
    for start in range(0, len(ids), 5000):  # bound the bound parameters of one statement
        deleted += await _delete_people(conn, query.bot_slug, ids[start : start + 5000])
    return deleted
