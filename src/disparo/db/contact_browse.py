"""The contacts table of the admin page: a bot's contacts searched, filtered, sorted and read in
keyset pages (a position, never an OFFSET), with their tags and paid totals.

A time sort is newest first with the contacts that never had that time last: the page reads
the contacts that have one down the index (bot_slug, time, telegram_id) from the position, and
once they run out, those without one by id. Tags and totals are read for the page's ids only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.filters import filter_condition
from disparo.db.tables import contact_tags, payment_transactions, telegram_contacts
from disparo.domain.filters import Filter
from disparo.domain.statuses import PaymentStatus

c = telegram_contacts.c
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_POSITION = re.compile(r"(?P<us>-?[0-9]{1,18})?\.(?P<id>[0-9]{1,19})")
_MAX_ID = 2**63 - 1


class ContactSort(StrEnum):
    """The orders the table offers; each is an index walk."""

    LAST_INTERACTION = "last_interaction"  # newest first, never-interacted last
    STARTED = "started"  # newest first, never-started last
    TELEGRAM_ID = "telegram_id"  # ascending


_TIME_COLUMNS = {
    ContactSort.LAST_INTERACTION: c.last_interaction_at,
    ContactSort.STARTED: c.started_at,
}


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ends: the sort column's value (None: past the contacts that have one) and
    the id. Written as `<microseconds since 1970>.<id>` (empty before the dot when None)."""

    time: datetime | None
    telegram_id: int

    def encode(self) -> str:
        us = "" if self.time is None else str((self.time - _EPOCH) // _MICROSECOND)
        return f"{us}.{self.telegram_id}"

    @classmethod
    def decode(cls, raw: str) -> Position:
        """The position of `raw`; ValueError if it is not one `encode` wrote."""
        found = _POSITION.fullmatch(raw)
        if found is None or int(found["id"]) > _MAX_ID:
            raise ValueError(raw)
        try:
            us = found["us"]
            return cls(None if us is None else _EPOCH + int(us) * _MICROSECOND, int(found["id"]))
        except OverflowError:  # past the years a datetime holds
            raise ValueError(raw) from None


@dataclass(frozen=True, slots=True)
class ContactQuery:
    """Which contacts of a bot, in which order."""

    bot_slug: str
    sort: ContactSort = ContactSort.LAST_INTERACTION
    search: str | None = None
    state: str | None = None
    narrowing: Filter | None = None


@dataclass(slots=True)
class ContactRow:
    """One line of the table."""

    telegram_id: int
    first_name: str | None
    last_name: str | None
    username: str | None
    language_code: str | None
    chat_state: str
    started_at: datetime | None
    last_interaction_at: datetime | None
    blocked_at: datetime | None
    has_pix: bool
    tags: list[str] = field(default_factory=list)
    total_paid_cents: int = 0


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_condition(text: str) -> ColumnElement[bool]:
    """Digits are an id (one primary-key lookup); other text is searched in the first name,
    last name and username (any case), a scan that a page stops after its rows."""
    text = text.strip().lstrip("@")
    if text.isascii() and text.isdigit():
        return c.telegram_id == int(text) if len(text) <= 18 else false()
    return or_(
        *(
            func.lower(column).like(_like(text), escape="\\")
            for column in (c.first_name, c.last_name, c.username)
        )
    )


def matching(query: ContactQuery, *, now: datetime) -> ColumnElement[bool]:
    """The condition over `telegram_contacts` of the query's contacts (any order)."""
    conditions: list[ColumnElement[bool]] = [c.bot_slug == query.bot_slug]
    if query.search:
        conditions.append(search_condition(query.search))
    if query.state is not None:
        conditions.append(c.chat_state == query.state)
    if query.narrowing is not None:
        conditions.append(filter_condition(query.narrowing, now=now, bot_slug=query.bot_slug))
    return and_(true(), *conditions)


_COLUMNS = (
    c.telegram_id,
    c.first_name,
    c.last_name,
    c.username,
    c.language_code,
    c.chat_state,
    c.started_at,
    c.last_interaction_at,
    c.blocked_at,
    c.has_pix,
)


async def _rows(conn: AsyncConnection, query: Select[tuple[object, ...]]) -> list[ContactRow]:
    return [ContactRow(**row) for row in (await conn.execute(query)).mappings()]


async def contact_page(
    conn: AsyncConnection,
    query: ContactQuery,
    *,
    now: datetime,
    after: Position | None,
    limit: int,
) -> tuple[list[ContactRow], Position | None]:
    """Up to `limit` contacts after `after`, with their tags and totals, and the position of
    the next page (None at the end)."""
    where = matching(query, now=now)
    base = select(*_COLUMNS).where(where)
    wanted = limit + 1
    if query.sort is ContactSort.TELEGRAM_ID:
        if after is not None:
            base = base.where(c.telegram_id > after.telegram_id)
        rows = await _rows(conn, base.order_by(c.telegram_id).limit(wanted))
    else:
        column = _TIME_COLUMNS[query.sort]
        rows = []
        if after is None or after.time is not None:
            timed = base.where(column.is_not(None))
            if after is not None:
                # `<=` bounds the index range; the OR only sorts out the rows at that time.
                timed = timed.where(
                    column <= after.time,
                    or_(column < after.time, c.telegram_id < after.telegram_id),
                )
            order = (column.desc(), c.telegram_id.desc())
            rows = await _rows(conn, timed.order_by(*order).limit(wanted))
        if len(rows) < wanted:
            untimed = base.where(column.is_(None))
            if after is not None and after.time is None:
                untimed = untimed.where(c.telegram_id < after.telegram_id)
            order_ids = untimed.order_by(c.telegram_id.desc()).limit(wanted - len(rows))
            rows += await _rows(conn, order_ids)
    page = rows[:limit]
    await _add_tags_and_totals(conn, query.bot_slug, page)
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    time = None
    if query.sort is not ContactSort.TELEGRAM_ID:
        time = getattr(last, _TIME_COLUMNS[query.sort].name)
    return page, Position(time, last.telegram_id)


async def _add_tags_and_totals(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[ContactRow]
) -> None:
    if not rows:
        return
    by_id = {row.telegram_id: row for row in rows}
    t = contact_tags.c
    tags = (
        select(t.telegram_id, t.tag)
        .where(t.bot_slug == bot_slug, t.telegram_id.in_(by_id))
        .order_by(t.telegram_id, t.tag)
    )
    for telegram_id, tag in await conn.execute(tags):
        by_id[telegram_id].tags.append(tag)
    p = payment_transactions.c
    totals = (
        select(p.telegram_id, func.sum(p.amount_cents))
        .where(
            p.bot_slug == bot_slug,
            p.status == PaymentStatus.PAID.value,
            p.telegram_id.in_(by_id),
        )
        .group_by(p.telegram_id)
    )
    for telegram_id, total in await conn.execute(totals):
        by_id[telegram_id].total_paid_cents = int(total or 0)


async def count_contacts(conn: AsyncConnection, query: ContactQuery, *, now: datetime) -> int:
    """How many contacts the query matches."""
    found = await conn.scalar(
        select(func.count()).select_from(telegram_contacts).where(matching(query, now=now))
    )
    return int(found or 0)
