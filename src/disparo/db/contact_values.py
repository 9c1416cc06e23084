"""What personal variables read for a batch of contacts: a few set-based queries per batch,
only those the shot's variables need (a shot naming only {first_name} reads one table)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.tables import contact_tags, funnel_events, payment_transactions, telegram_contacts
from disparo.domain.statuses import PIX_EVENTS, PaymentStatus
from disparo.domain.variables import ContactValues

c = telegram_contacts.c
p = payment_transactions.c
e = funnel_events.c


async def _tags(conn: AsyncConnection, slug: str, ids: list[int]) -> dict[int, list[str]]:
    t = contact_tags.c
    query = (
        select(t.telegram_id, t.tag)
        .where(t.bot_slug == slug, t.telegram_id.in_(ids))
        .order_by(t.telegram_id, t.tag)
    )
    found: dict[int, list[str]] = defaultdict(list)
    for telegram_id, tag in (await conn.execute(query)).tuples():
        found[int(telegram_id)].append(str(tag))
    return found


async def _total_paid(conn: AsyncConnection, slug: str, ids: list[int]) -> dict[int, int]:
    query = (
        select(p.telegram_id, func.sum(p.amount_cents))
        .where(p.bot_slug == slug, p.telegram_id.in_(ids), p.status == PaymentStatus.PAID.value)
        .group_by(p.telegram_id)
    )
    return {int(tid): int(total) for tid, total in (await conn.execute(query)).tuples()}


async def _last_pix(
    conn: AsyncConnection, slug: str, ids: list[int]
) -> dict[int, tuple[datetime, int | None]]:
    """Each contact's latest PIX: when (a PIX event or a payment), and the latest payment's
    amount."""
    latest: dict[int, tuple[datetime, int | None]] = {}
    payments = (
        select(p.telegram_id, p.created_at, p.amount_cents)
        .where(p.bot_slug == slug, p.telegram_id.in_(ids))
        .order_by(p.telegram_id, p.created_at.desc(), p.id.desc())
    )
    for tid, created_at, amount in (await conn.execute(payments)).tuples():
        latest.setdefault(int(tid), (created_at, int(amount)))
    events = (
        select(e.telegram_id, func.max(e.occurred_at))
        .where(e.bot_slug == slug, e.telegram_id.in_(ids), e.event.in_(PIX_EVENTS))
        .group_by(e.telegram_id)
    )
    for tid, occurred_at in (await conn.execute(events)).tuples():
        at, amount = latest.get(int(tid), (occurred_at, None))
        latest[int(tid)] = (max(at, occurred_at), amount)
    return latest


async def contact_values(
    conn: AsyncConnection, bot_slug: str, telegram_ids: Collection[int], variables: Collection[str]
) -> dict[int, ContactValues]:
    """The values of `variables` for each of the bot's contacts among `telegram_ids` (a contact
    not found is left out: its variables render as missing)."""
    ids = list(telegram_ids)
    if not ids:
        return {}
    names = set(variables)
    query = select(c.telegram_id, c.first_name, c.last_name, c.username, c.attributes).where(
        c.bot_slug == bot_slug, c.telegram_id.in_(ids)
    )
    rows = (await conn.execute(query)).all()
    tags = await _tags(conn, bot_slug, ids) if "tags" in names else {}
    totals = await _total_paid(conn, bot_slug, ids) if "total_paid" in names else {}
    pix = {}
    if names & {"last_pix_amount", "last_pix_at"}:
        pix = await _last_pix(conn, bot_slug, ids)
    found: dict[int, ContactValues] = {}
    for row in rows:
        tid = int(row.telegram_id)
        attributes: Any = row.attributes if isinstance(row.attributes, dict) else {}
        last_at, last_amount = pix.get(tid, (None, None))
        found[tid] = ContactValues(
            first_name=row.first_name,
            last_name=row.last_name,
            username=row.username,
            last_pix_amount_cents=last_amount,
            total_paid_cents=totals.get(tid, 0) if "total_paid" in names else None,
            last_pix_at=last_at,
            tags=tuple(tags.get(tid, ())),
            attributes=attributes,
        )
    return found


async def contact_names(
    conn: AsyncConnection, bot_slug: str, telegram_ids: Collection[int]
) -> dict[int, str | None]:
    """Each of the bot's contacts among `telegram_ids` with its first and last name (None when it
    has neither), to show an operator who a rendering is for."""
    query = select(c.telegram_id, c.first_name, c.last_name).where(
        c.bot_slug == bot_slug, c.telegram_id.in_(list(telegram_ids))
    )
    found: dict[int, str | None] = {}
    for tid, first, last in (await conn.execute(query)).tuples():
        found[int(tid)] = " ".join(part for part in (first, last) if part) or None
    return found


async def merge_attributes(
    conn: AsyncConnection,
    bot_slug: str,
    telegram_id: int,
    changes: Mapping[str, object] | None,
) -> dict[str, Any]:
    """Merge `changes` into the contact's attributes (a None value removes the key); the
    attributes after the change. The caller checked the contact exists."""
    where = (c.bot_slug == bot_slug, c.telegram_id == telegram_id)
    current = await conn.scalar(select(c.attributes).where(*where))
    attributes: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
    if changes:
        for key, value in changes.items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
        await conn.execute(
            update(telegram_contacts).where(*where).values(attributes=attributes or None)
        )
    return attributes
