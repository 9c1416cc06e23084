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
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.filters import filter_condition
from disparo.db.tables import contact_tags, payment_transactions, telegram_contacts
from disparo.domain.filters import Filter
from disparo.domain.statuses import PaymentStatus

c = telegram_contacts.c
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_POSITION = re.compile(r"(?P<key>-?[0-9]{1,18})?\.(?P<id>[0-9]{1,19})")
_MAX_ID = 2**63 - 1


class ContactSort(StrEnum):
    """The orders the table offers; each reads its pages from an index."""

    LAST_INTERACTION = "last_interaction"  # newest first, never-interacted last
    STARTED = "started"  # newest first, never-started last
    TOTAL_PAID = "total_paid"  # largest first, those who never paid last
    TELEGRAM_ID = "telegram_id"  # ascending


_TIME_COLUMNS = {
    ContactSort.LAST_INTERACTION: c.last_interaction_at,
    ContactSort.STARTED: c.started_at,
}


def _microseconds(time: datetime) -> int:
    return (time - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ends: the sort key (microseconds since 1970 of the time, or the total in
    cents; None once past the contacts that have one) and the id, written `<key>.<id>`."""

    key: int | None
    telegram_id: int

    def encode(self) -> str:
        return f"{'' if self.key is None else self.key}.{self.telegram_id}"

    @classmethod
    def decode(cls, raw: str) -> Position:
        """The position of `raw`; ValueError if it is not one `encode` wrote."""
        found = _POSITION.fullmatch(raw)
        if found is None or int(found["id"]) > _MAX_ID:
            raise ValueError(raw)
        key = None if found["key"] is None else int(found["key"])
        if key is not None:
            try:
                _EPOCH + key * _MICROSECOND  # a time sort's key must be a time
            except OverflowError:
                raise ValueError(raw) from None
        return cls(key, int(found["id"]))


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


def _paid_totals(bot_slug: str) -> Any:
    """Each paying contact's total, from the payments' index alone."""
    p = payment_transactions.c
    return (
        select(p.telegram_id.label("telegram_id"), func.sum(p.amount_cents).label("total"))
        .where(p.bot_slug == bot_slug, p.status == PaymentStatus.PAID.value)
        .group_by(p.telegram_id)
        .subquery()
    )


def _keyed(query: ContactQuery, base: Select[Any]) -> tuple[Select[Any], Select[Any], Any]:
    """The sort's two phases: the contacts that have a key (with the key's expression) and
    those without one."""
    if query.sort is ContactSort.TOTAL_PAID:
        totals = _paid_totals(query.bot_slug)
        paid = base.join(totals, totals.c.telegram_id == c.telegram_id)
        return paid, base.where(c.telegram_id.not_in(select(totals.c.telegram_id))), totals.c.total
    column = _TIME_COLUMNS[query.sort]
    return base.where(column.is_not(None)), base.where(column.is_(None)), column


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
    base = select(*_COLUMNS).where(matching(query, now=now))
    wanted = limit + 1
    if query.sort is ContactSort.TELEGRAM_ID:
        if after is not None:
            base = base.where(c.telegram_id > after.telegram_id)
        rows = await _rows(conn, base.order_by(c.telegram_id).limit(wanted))
        keyed = len(rows)
    else:
        with_key, without_key, key = _keyed(query, base)
        timed = query.sort is not ContactSort.TOTAL_PAID
        rows = []
        if after is None or after.key is not None:
            if after is not None and after.key is not None:
                bound = _EPOCH + after.key * _MICROSECOND if timed else after.key
                # `<=` bounds the index range; the OR only sorts out the rows at that key.
                with_key = with_key.where(
                    key <= bound, or_(key < bound, c.telegram_id < after.telegram_id)
                )
            order = (key.desc(), c.telegram_id.desc())
            rows = await _rows(conn, with_key.order_by(*order).limit(wanted))
        keyed = len(rows)
        if len(rows) < wanted:
            if after is not None and after.key is None:
                without_key = without_key.where(c.telegram_id < after.telegram_id)
            by_id = without_key.order_by(c.telegram_id.desc()).limit(wanted - len(rows))
            rows += await _rows(conn, by_id)
    page = rows[:limit]
    await _add_tags_and_totals(conn, query.bot_slug, page)
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, Position(_key_of(query.sort, last) if limit <= keyed else None, last.telegram_id)


def _key_of(sort: ContactSort, row: ContactRow) -> int | None:
    if sort is ContactSort.TELEGRAM_ID:
        return None
    if sort is ContactSort.TOTAL_PAID:
        return row.total_paid_cents
    time: datetime = getattr(row, _TIME_COLUMNS[sort].name)
    return _microseconds(time)


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
