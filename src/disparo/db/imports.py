"""Bulk upserts behind the import routes: contacts, funnel events and payment transactions.

`importing` takes an import's chunks of validated rows (distinct keys within a chunk, None where
the source gave nothing) and stores them whole or not at all. A None never overwrites a stored
value; a key given again in a later chunk updates what the earlier one wrote. On PostgreSQL the
chunks are upserted one after the other in one transaction (a `Batch` per chunk, made ready
off the event loop, one statement per group of rows that also counts the keys stored before);
on SQLite they are staged in a scratch file
and merged in one short transaction (`disparo.db.import_stage`). Contact rows may also carry
`tags` and `attributes` (changes merged into the stored object, a None value removing its key;
see `disparo.db.import_extras`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, case, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.engine import Database
from disparo.db.import_extras import (
    ATTRIBUTES_SQL,
    merged_attributes,
    tags_document,
    write_tags,
    write_tags_document,
)
from disparo.db.import_stage import Merge, SqliteStage, Tagged
from disparo.db.tables import funnel_events, payment_transactions, telegram_contacts
from disparo.db.upserts import (
    NEW_ATTRIBUTES,
    Batch,
    ExtraSet,
    groups,
    no_extra,
    pg_groups,
    upsert_into,
)
from disparo.domain.statuses import UNREACHABLE_CHAT_STATES, ChatState

CONTACT_COLUMNS = (
    "telegram_id",
    "first_name",
    "last_name",
    "username",
    "language_code",
    "chat_state",
    "started_at",
    "last_interaction_at",
)
EVENT_COLUMNS = ("telegram_id", "event", "occurred_at", "payload")
TRANSACTION_COLUMNS = (
    "telegram_id",
    "external_id",
    "status",
    "amount_cents",
    "currency",
    "created_at",
    "paid_at",
)
_UNREACHABLE = tuple(s.value for s in UNREACHABLE_CHAT_STATES)


async def _send(conn: AsyncConnection, bot_slug: str, batch: Batch, *, replace_tags: bool) -> int:
    """PostgreSQL: write a batch; how many of its rows were stored before."""
    stored = 0
    for stmt, params in batch.groups:
        stored += (await stmt.execute(conn, params)).scalar_one()
    if batch.tags is not None:
        await write_tags_document(conn, bot_slug, batch.tags, replace=replace_tags)
    return stored


async def _upsert(
    conn: AsyncConnection,
    table: Table,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    defaults: dict[str, Any],
    extra_set: ExtraSet = no_extra,
) -> None:
    """SQLite: insert `rows` (`defaults` filling what a row leaves out); on a key conflict
    update only the columns the row gives, so nothing given as None overwrites a stored value.
    An executemany per group of rows giving the same columns, one call in the driver's thread.
    """
    for given, group in groups(rows, defaults).items():
        stmt = upsert_into(conn, table)
        set_ = {name: stmt.excluded[name] for name in given if name not in key}
        set_.update(extra_set(given, stmt.excluded))
        index = [table.c[name] for name in key]
        if set_:
            stmt = stmt.on_conflict_do_update(index_elements=index, set_=set_)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=index)
        await conn.execute(stmt, group)


async def _stored_keys(
    conn: AsyncConnection,
    table: Table,
    bot_slug: str,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> set[tuple[Any, ...]]:
    """SQLite: which keys of `rows` the bot already has stored, matched on `key` (SQLite probes
    the primary key for each value of the IN)."""
    keys = {tuple(row[name] for name in key) for row in rows}
    first = table.c[key[0]]
    found = await conn.execute(
        select(*(table.c[name] for name in key)).where(
            table.c.bot_slug == bot_slug, first.in_({k[0] for k in keys})
        )
    )
    return keys & {tuple(r) for r in found}


def _contact_set(dialect: str) -> ExtraSet:
    """What a contact's update sets beside its given columns."""
    t = telegram_contacts

    def extra_set(given: frozenset[str], new: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {"updated_at": new.updated_at}
        if "chat_state" in given:
            unreachable = or_(*(new.chat_state == state for state in _UNREACHABLE))
            became_unreachable = unreachable & (t.c.chat_state == ChatState.ACTIVE.value)
            changes["blocked_at"] = case((became_unreachable, new.updated_at), else_=t.c.blocked_at)
        if "attributes" in given:
            changes["attributes"] = merged_attributes(dialect, new.attributes)
        return changes

    return extra_set


_CONTACT_KEY = ("bot_slug", "telegram_id")
_CONTACT_SET_PG = _contact_set("postgresql")


def _contact_parts(
    bot_slug: str | None, rows: Sequence[dict[str, Any]], stored: set[tuple[Any, ...]] | None
) -> tuple[list[dict[str, Any]], Tagged]:
    """The rows as upserted (tags taken out; `bot_slug` added unless None) and their tags. A new
    contact stores its attribute changes without their nulls: `stored` says which are new
    (SQLite); on PostgreSQL (None) a row carries that object as NEW_ATTRIBUTES and the
    statement picks."""
    tagged = [(row["telegram_id"], tags) for row in rows if (tags := row.get("tags")) is not None]
    upserted = [{"bot_slug": bot_slug, **row} for row in rows] if bot_slug else list(rows)
    for at, row in enumerate(upserted):
        if "tags" in row or "attributes" in row:
            row = upserted[at] = {**row} if bot_slug is None else row  # the caller's rows stay
            row.pop("tags", None)  # written to contact_tags, not a column
            changes = row.get("attributes")
            if changes is None:
                continue
            fresh = {k: v for k, v in changes.items() if v is not None} or None
            if stored is None:
                row[NEW_ATTRIBUTES] = fresh
            elif (row["telegram_id"],) not in stored:
                row["attributes"] = fresh
    return upserted, tagged


def contacts_batch(
    bot_slug: str, rows: Sequence[dict[str, Any]], now: datetime, _replace_tags: bool
) -> Batch:
    """PostgreSQL: a chunk of contacts ready to send."""
    upserted, tagged = _contact_parts(None, rows, None)
    written = pg_groups(
        telegram_contacts,
        _CONTACT_KEY,
        upserted,
        defaults={"chat_state": ChatState.ACTIVE.value},
        constants={"bot_slug": bot_slug, "updated_at": now},
        extra_set=_CONTACT_SET_PG,
    )
    return Batch(len(rows), written, tags_document(tagged) if tagged else None)


async def upsert_contacts(
    conn: AsyncConnection,
    bot_slug: str,
    rows: Sequence[dict[str, Any]],
    *,
    now: datetime,
    replace_tags: bool = False,
) -> int:
    """Insert or update contacts; a move from active to blocked/deactivated sets blocked_at.
    A row's `attributes` are merged into the contact's, its `tags` added (or, with
    `replace_tags`, made its whole set). How many of them were stored before."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        batch = contacts_batch(bot_slug, rows, now, replace_tags)
        return await _send(conn, bot_slug, batch, replace_tags=replace_tags)
    t = telegram_contacts
    stored = await _stored_keys(conn, t, bot_slug, ("telegram_id",), rows)
    upserted, tagged = _contact_parts(bot_slug, rows, stored)
    defaults = {"chat_state": ChatState.ACTIVE.value, "updated_at": now}
    extra_set = _contact_set(conn.dialect.name)
    await _upsert(conn, t, _CONTACT_KEY, upserted, defaults=defaults, extra_set=extra_set)
    await write_tags(conn, bot_slug, tagged, replace=replace_tags)
    return len(stored)


_EVENT_KEY = ("bot_slug", "telegram_id", "event", "occurred_at")
_TRANSACTION_KEY = ("bot_slug", "external_id")


def events_batch(bot_slug: str, rows: Sequence[dict[str, Any]], *_: Any) -> Batch:
    """PostgreSQL: a chunk of funnel events ready to send."""
    constants = {"bot_slug": bot_slug}
    return Batch(
        len(rows), pg_groups(funnel_events, _EVENT_KEY, rows, defaults={}, constants=constants)
    )


def transactions_batch(
    bot_slug: str, rows: Sequence[dict[str, Any]], now: datetime, *_: Any
) -> Batch:
    """PostgreSQL: a chunk of payment transactions ready to send."""
    defaults = {"currency": "BRL", "created_at": now}
    constants = {"bot_slug": bot_slug}
    written = pg_groups(
        payment_transactions, _TRANSACTION_KEY, rows, defaults=defaults, constants=constants
    )
    return Batch(len(rows), written)


async def upsert_events(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]]
) -> int:
    """Insert funnel events; an event already known gets the new payload, if one is given."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return await _send(conn, bot_slug, events_batch(bot_slug, rows), replace_tags=False)
    t = funnel_events
    known = len(await _stored_keys(conn, t, bot_slug, _EVENT_KEY[1:], rows))
    upserted = [{"bot_slug": bot_slug, **row} for row in rows]
    await _upsert(conn, t, _EVENT_KEY, upserted, defaults={})
    return known


async def upsert_transactions(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Insert or update payment transactions, matched on their `external_id`."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        batch = transactions_batch(bot_slug, rows, now)
        return await _send(conn, bot_slug, batch, replace_tags=False)
    t = payment_transactions
    existing = len(await _stored_keys(conn, t, bot_slug, _TRANSACTION_KEY[1:], rows))
    upserted = [{"bot_slug": bot_slug, **row} for row in rows]
    defaults = {"currency": "BRL", "created_at": now}
    await _upsert(conn, t, _TRANSACTION_KEY, upserted, defaults=defaults)
    return existing


class Importer(Protocol):
    """Where an import's chunks go: `add` each (or `add_prepared` what `prepare` made of it),
    then `finish`."""

    def prepare(self, rows: Sequence[dict[str, Any]]) -> Any:
        """One chunk of rows (distinct keys) made ready for `add_prepared`: CPU work only, on
        any thread (an import's reading thread does it while the previous chunk is written)."""

    async def add_prepared(self, prepared: Any) -> None:
        """Take one chunk as `prepare` made it."""

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Take one chunk of rows (distinct keys)."""

    async def finish(self) -> int:
        """Store what was added; how many rows were new (keys not stored before)."""


@dataclass(frozen=True, slots=True)
class ImportKind:
    """One kind of import: a chunk made ready to upsert (PostgreSQL), the merge of staged rows
    (SQLite)."""

    batch: Callable[[str, Sequence[dict[str, Any]], datetime, bool], Batch]  # bool: replace_tags
    merge: Merge


def _unreachable_sql() -> str:
    states = ", ".join(f"'{state}'" for state in _UNREACHABLE)
    active = ChatState.ACTIVE.value
    became = f"s.chat_state IN ({states}) AND t.chat_state = '{active}'"
    return f"CASE WHEN {became} THEN :now ELSE t.blocked_at END"


CONTACT_ROWS = ImportKind(
    batch=contacts_batch,
    merge=Merge(
        table=telegram_contacts,
        key=("telegram_id",),
        columns=(*CONTACT_COLUMNS[1:], "attributes"),
        defaults={"chat_state": f"'{ChatState.ACTIVE.value}'", "updated_at": ":now"},
        touch={"updated_at": ":now", "blocked_at": _unreachable_sql()},
        merged={"attributes": ATTRIBUTES_SQL},
        tagged=True,
        derived=True,
    ),
)
EVENT_ROWS = ImportKind(
    batch=events_batch,
    merge=Merge(
        table=funnel_events,
        key=("telegram_id", "event", "occurred_at"),
        columns=("payload",),
        only_giving=True,
    ),
)
TRANSACTION_ROWS = ImportKind(
    batch=transactions_batch,
    merge=Merge(
        table=payment_transactions,
        key=("external_id",),
        columns=tuple(c for c in TRANSACTION_COLUMNS if c != "external_id"),
        defaults={"currency": "'BRL'", "created_at": ":now"},
    ),
)


class _OneTransaction:
    """PostgreSQL: each chunk upserted at once, inside the import's one write transaction."""

    def __init__(
        self,
        conn: AsyncConnection,
        kind: ImportKind,
        bot_slug: str,
        now: datetime,
        replace_tags: bool,
    ) -> None:
        self.conn, self.kind, self.bot_slug, self.now = conn, kind, bot_slug, now
        self.replace_tags = replace_tags
        self.new = 0

    def prepare(self, rows: Sequence[dict[str, Any]]) -> Batch:
        return self.kind.batch(self.bot_slug, rows, self.now, self.replace_tags)

    async def add_prepared(self, prepared: Batch) -> None:
        existed = await _send(self.conn, self.bot_slug, prepared, replace_tags=self.replace_tags)
        self.new += prepared.rows - existed

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.add_prepared(self.prepare(rows))

    async def finish(self) -> int:
        return self.new


@asynccontextmanager
async def importing(
    db: Database, kind: ImportKind, bot_slug: str, *, now: datetime, replace_tags: bool = False
) -> AsyncIterator[Importer]:
    """An import of `kind` for the bot: nothing of it is stored unless `finish` returns and the
    block ends without an error. Contact rows' tags are added to the contacts' own, or with
    `replace_tags` become their whole set.

    PostgreSQL: one write transaction from here to the end of the block (rows the import
    writes stay locked until then; other rows and tables are free). SQLite: nothing is locked
    until `finish`, whose transaction lasts as long as the set-based merge.
    """
    if db.is_sqlite:
        stage = SqliteStage(
            str(db.url.database), kind.merge, bot_slug, now, replace_tags=replace_tags
        )
        try:
            yield stage
        finally:
            await stage.close()
        return
    async with db.write() as conn:
        yield _OneTransaction(conn, kind, bot_slug, now, replace_tags)
