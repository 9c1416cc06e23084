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

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    column,
    false,
    func,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.filters import filter_condition
from disparo.db.tables import contact_tags, telegram_contacts
from disparo.db.tables_contacts import SEARCH_TABLE, STALE_SEARCH
from disparo.domain.filters import Filter

c = telegram_contacts.c
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_POSITION = re.compile(r"(?P<key>-?[0-9]{1,18})?\.(?P<id>[0-9]{1,19})")
_MAX_ID = 2**63 - 1
TRIGRAM = 3  # the shortest text a trigram index can look up
_FEW = 5_000  # SQLite: fewer search matches than this, and a page starts from them
# SQLite's FTS5 table of migration 0014 (rowid = telegram_id); the column named as the table
# is how FTS5 spells "match any column".
_search = table(SEARCH_TABLE, column("rowid"), column(SEARCH_TABLE))
_stale = table(STALE_SEARCH, column("telegram_id"))


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


def _indexed(text: str, dialect: str) -> str | None:
    """SQLite's FTS5 query for the search `text` (an FTS5 string: the text as a substring), or
    None where the trigram table cannot serve it: an id, fewer than 3 characters, a NUL (FTS5
    reads its query up to one), or another backend."""
    text = text.strip().lstrip("@")
    if (
        dialect != "sqlite"
        or len(text) < TRIGRAM
        or "\x00" in text
        or (text.isascii() and text.isdigit())
    ):
        return None
    return '"' + text.replace('"', '""') + '"'


def _indexed_matches(phrase: str) -> CompoundSelect[Any]:
    """The ids the index matches, and those an import has yet to index (their names are
    compared like the others')."""
    matches = select(_search.c.rowid).where(_search.c.contact_search.op("MATCH")(phrase))
    return union_all(matches, select(_stale.c.telegram_id))


def search_condition(text: str, *, dialect: str, narrow: bool = True) -> ColumnElement[bool]:
    """Digits are an id (one primary-key lookup); other text is a substring of the first name,
    last name or username (any case). From 3 characters a trigram index can narrow the
    contacts first: on PostgreSQL its GIN index serves this very condition; on SQLite, if
    `narrow`, the contacts are those among the FTS5 table's matches (a superset the condition
    then sifts), so a text that matches few is a probe."""
    text = text.strip().lstrip("@")
    if text.isascii() and text.isdigit():
        return c.telegram_id == int(text) if len(text) <= 18 else false()
    named = or_(
        *(
            func.lower(column).like(_like(text), escape="\\")
            for column in (c.first_name, c.last_name, c.username)
        )
    )
    phrase = _indexed(text, dialect)
    if phrase is None or not narrow:
        return named
    return and_(c.telegram_id.in_(_indexed_matches(phrase)), named)


async def _narrows(conn: AsyncConnection, search: str | None) -> bool:
    """Whether a page should start from the search's index matches (fewer than `_FEW`) rather
    than walk its sort's index, testing each name, until it has its rows (SQLite; PostgreSQL's
    planner makes this choice itself). Walking costs about (contacts / matches) rows a row of
    the page, reading the matches about one probe and sort step each: at 1,000,000 contacts
    the two meet near 5,000 matches, ~25 ms either way."""
    phrase = None if search is None else _indexed(search, conn.dialect.name)
    if phrase is None:
        return True
    some = _indexed_matches(phrase).limit(_FEW).subquery()
    return int(await conn.scalar(select(func.count()).select_from(some)) or 0) < _FEW


def matching(
    query: ContactQuery, *, now: datetime, dialect: str, narrow: bool = True
) -> ColumnElement[bool]:
    """The condition over `telegram_contacts` of the query's contacts (any order), for the
    backend `dialect` (its name search differs; `narrow`: see `search_condition`)."""
    conditions: list[ColumnElement[bool]] = [c.bot_slug == query.bot_slug]
    if query.search:
        conditions.append(search_condition(query.search, dialect=dialect, narrow=narrow))
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
    c.total_paid_cents,
)


async def _rows(conn: AsyncConnection, query: Select[tuple[object, ...]]) -> list[ContactRow]:
    return [ContactRow(**row) for row in (await conn.execute(query)).mappings()]


def _keyed(query: ContactQuery, base: Select[Any]) -> tuple[Select[Any], Select[Any], Any]:
    """A time sort's two phases: the contacts that have the time (with its column) and those
    without one."""
    column = _TIME_COLUMNS[query.sort]
    return base.where(column.is_not(None)), base.where(column.is_(None)), column


def _below(rows: Select[Any], key: Any, bound: object, telegram_id: int) -> Select[Any]:
    """The rows after (`bound`, `telegram_id`) in the order (key desc, telegram_id desc)."""
    # `<=` bounds the index range; the OR only sorts out the rows at that key.
    return rows.where(key <= bound, or_(key < bound, c.telegram_id < telegram_id))


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
    narrow = await _narrows(conn, query.search)
    base = select(*_COLUMNS).where(
        matching(query, now=now, dialect=conn.dialect.name, narrow=narrow)
    )
    wanted = limit + 1
    if query.sort is ContactSort.TELEGRAM_ID:
        if after is not None:
            base = base.where(c.telegram_id > after.telegram_id)
        rows = await _rows(conn, base.order_by(c.telegram_id).limit(wanted))
        keyed = len(rows)
    elif query.sort is ContactSort.TOTAL_PAID:
        # Every contact has a total (0 if it never paid): one walk down (bot, total, id). A
        # position without a key (written before the total was a column) is among the zeros.
        key = c.total_paid_cents
        if after is not None:
            base = _below(base, key, after.key or 0, after.telegram_id)
        rows = await _rows(conn, base.order_by(key.desc(), c.telegram_id.desc()).limit(wanted))
        keyed = len(rows)
    else:
        with_key, without_key, key = _keyed(query, base)
        rows = []
        if after is None or after.key is not None:
            if after is not None and after.key is not None:
                bound = _EPOCH + after.key * _MICROSECOND
                with_key = _below(with_key, key, bound, after.telegram_id)
            order = (key.desc(), c.telegram_id.desc())
            rows = await _rows(conn, with_key.order_by(*order).limit(wanted))
        keyed = len(rows)
        if len(rows) < wanted:
            if after is not None and after.key is None:
                without_key = without_key.where(c.telegram_id < after.telegram_id)
            by_id = without_key.order_by(c.telegram_id.desc()).limit(wanted - len(rows))
            rows += await _rows(conn, by_id)
    page = rows[:limit]
    await _add_tags(conn, query.bot_slug, page)
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


async def _add_tags(conn: AsyncConnection, bot_slug: str, rows: Sequence[ContactRow]) -> None:
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


async def count_contacts(conn: AsyncConnection, query: ContactQuery, *, now: datetime) -> int:
    """How many contacts the query matches."""
    found = await conn.scalar(
        select(func.count())
        .select_from(telegram_contacts)
        .where(matching(query, now=now, dialect=conn.dialect.name))
    )
    return int(found or 0)
