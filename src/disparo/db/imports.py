"""Bulk upserts behind the import routes: contacts, funnel events and payment transactions.

`importing` takes an import's chunks of validated rows (distinct keys within a chunk, None where
the source gave nothing) and stores them whole or not at all. A None never overwrites a stored
value; a key given again in a later chunk updates what the earlier one wrote. On PostgreSQL the
chunks are upserted one after the other in one transaction (the `upsert_*` functions, each
returning how many of its rows existed before); on SQLite they are staged in a scratch file
and merged in one short transaction (`disparo.db.import_stage`). Contact rows may also carry
`tags` and `attributes` (changes merged into the stored object, a None value removing its key;
see `disparo.db.import_extras`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    JSON,
    Select,
    Table,
    Text,
    bindparam,
    case,
    cast,
    column,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.engine import Database
from disparo.db.import_extras import ATTRIBUTES_SQL, merged_attributes, write_tags
from disparo.db.import_stage import Merge, SqliteStage
from disparo.db.tables import funnel_events, payment_transactions, telegram_contacts
from disparo.db.upserts import upsert_into
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


def _groups(
    rows: Sequence[dict[str, Any]], defaults: dict[str, Any]
) -> dict[frozenset[str], list[dict[str, Any]]]:
    """`rows` grouped by the columns they give (not None), `defaults` filling the rest."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        values = {k: v for k, v in row.items() if v is not None}
        groups[frozenset(values)].append({**defaults, **values})
    return groups


def _recordset(table: Table, names: Sequence[str]) -> Select[Any]:
    """PostgreSQL: the rows of the JSON array bound as `rows`, as the columns `names`."""
    records = func.json_to_recordset(cast(bindparam("rows", type_=Text()), JSON)).table_valued(
        *(column(name, table.c[name].type) for name in names)
    )
    source = records.render_derived(with_types=True)
    return select(*(source.c[name] for name in names))


async def _upsert(
    conn: AsyncConnection,
    table: Table,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    defaults: dict[str, Any],
    extra_set: Callable[[frozenset[str], Any], dict[str, Any]] = lambda _given, _new: {},
) -> None:
    """Insert `rows` (`defaults` filling what a row leaves out); on a key conflict update only
    the columns the row gives, so nothing given as None overwrites a stored value.

    On PostgreSQL each group of rows travels as one JSON document written by one statement:
    psycopg sends an executemany row by row, and the has_pix statement triggers then ran once
    per row (3,000 rows/s); a multi-row VALUES costs psycopg ~50 µs a row to parse on the
    event loop. On SQLite an executemany is one call in the driver's thread.
    """
    postgresql = conn.dialect.name == "postgresql"
    for given, group in _groups(rows, defaults).items():
        names = list(group[0])
        stmt = upsert_into(conn, table)
        if postgresql:
            stmt = stmt.from_select(names, _recordset(table, names))
        set_ = {name: stmt.excluded[name] for name in given if name not in key}
        set_.update(extra_set(given, stmt.excluded))
        index = [table.c[name] for name in key]
        if set_:
            stmt = stmt.on_conflict_do_update(index_elements=index, set_=set_)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=index)
        if postgresql:
            await conn.execute(stmt, {"rows": orjson.dumps(group).decode()})
        else:
            await conn.execute(stmt, group)


def _stored_pg(table: Table, key: Sequence[str]) -> Select[Any]:
    """PostgreSQL: which keys of the JSON array bound as `keys` the bot `bot_slug` has stored.

    One unique-index probe per key, whatever the planner's statistics say: inside an import's
    transaction they still describe the table before it (often empty), and an IN over 2,000
    keys was planned as a scan of every row of the bot, each tested against the whole list
    (3 s per chunk at 150,000 contacts).
    """
    wanted = (
        func.json_to_recordset(cast(bindparam("keys", type_=Text()), JSON))
        .table_valued(*(column(name, table.c[name].type) for name in key))
        .render_derived(with_types=True)
    )
    stored = (
        select(*(table.c[name] for name in key))
        .where(table.c.bot_slug == bindparam("bot_slug"), *(table.c[n] == wanted.c[n] for n in key))
        .limit(1)  # a LIMIT keeps the subquery a per-key probe (it is never merged into a join)
        .lateral()
    )
    return select(*stored.c).select_from(wanted.join(stored, true()))


async def _stored_keys(
    conn: AsyncConnection,
    table: Table,
    bot_slug: str,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> set[tuple[Any, ...]]:
    """Which keys of `rows` the bot already has stored, matched on `key`."""
    keys = {tuple(row[name] for name in key) for row in rows}
    if conn.dialect.name == "postgresql":
        document = orjson.dumps([dict(zip(key, k, strict=True)) for k in keys]).decode()
        found = await conn.execute(_stored_pg(table, key), {"keys": document, "bot_slug": bot_slug})
    else:  # SQLite probes the primary key for each value of the IN
        first = table.c[key[0]]
        found = await conn.execute(
            select(*(table.c[name] for name in key)).where(
                table.c.bot_slug == bot_slug, first.in_({k[0] for k in keys})
            )
        )
    return keys & {tuple(r) for r in found}


async def _count_stored(
    conn: AsyncConnection,
    table: Table,
    bot_slug: str,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> int:
    """How many of `rows` (distinct keys) the bot already has stored, matched on `key`."""
    return len(await _stored_keys(conn, table, bot_slug, key, rows))


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
    `replace_tags`, made its whole set)."""
    if not rows:
        return 0
    t = telegram_contacts
    stored = await _stored_keys(conn, t, bot_slug, ("telegram_id",), rows)
    tagged = [(row["telegram_id"], tags) for row in rows if (tags := row.get("tags")) is not None]
    upserted = [{"bot_slug": bot_slug, **row} for row in rows]
    for row in upserted:
        if "tags" in row or "attributes" in row:
            row.pop("tags", None)  # written to contact_tags, not a column
            changes = row.get("attributes")
            if changes is not None and (row["telegram_id"],) not in stored:
                row["attributes"] = {k: v for k, v in changes.items() if v is not None} or None

    def extra_set(given: frozenset[str], new: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {"updated_at": new.updated_at}
        if "chat_state" in given:
            unreachable = new.chat_state.in_(_UNREACHABLE)
            became_unreachable = unreachable & (t.c.chat_state == ChatState.ACTIVE.value)
            changes["blocked_at"] = case((became_unreachable, new.updated_at), else_=t.c.blocked_at)
        if "attributes" in given:
            changes["attributes"] = merged_attributes(conn, new.attributes)
        return changes

    await _upsert(
        conn,
        t,
        ("bot_slug", "telegram_id"),
        upserted,
        defaults={"chat_state": ChatState.ACTIVE.value, "updated_at": now},
        extra_set=extra_set,
    )
    await write_tags(conn, bot_slug, tagged, replace=replace_tags)
    return len(stored)


async def upsert_events(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]]
) -> int:
    """Insert funnel events; an event already known gets the new payload, if one is given."""
    if not rows:
        return 0
    t = funnel_events
    known = await _count_stored(conn, t, bot_slug, ("telegram_id", "event", "occurred_at"), rows)
    await _upsert(
        conn,
        t,
        ("bot_slug", "telegram_id", "event", "occurred_at"),
        [{"bot_slug": bot_slug, **row} for row in rows],
        defaults={},
    )
    return known


async def upsert_transactions(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Insert or update payment transactions, matched on their `external_id`."""
    if not rows:
        return 0
    t = payment_transactions
    existing = await _count_stored(conn, t, bot_slug, ("external_id",), rows)
    await _upsert(
        conn,
        t,
        ("bot_slug", "external_id"),
        [{"bot_slug": bot_slug, **row} for row in rows],
        defaults={"currency": "BRL", "created_at": now},
    )
    return existing


class Importer(Protocol):
    """Where an import's chunks go: `add` each, then `finish`."""

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Take one chunk of rows (distinct keys)."""

    async def finish(self) -> int:
        """Store what was added; how many rows were new (keys not stored before)."""


@dataclass(frozen=True, slots=True)
class ImportKind:
    """One kind of import: its upsert of a chunk (PostgreSQL), its merge of staged rows (SQLite)."""

    upsert: Callable[
        [AsyncConnection, str, Sequence[dict[str, Any]], datetime, bool], Awaitable[int]
    ]  # the bool: replace_tags
    merge: Merge


def _unreachable_sql() -> str:
    states = ", ".join(f"'{state}'" for state in _UNREACHABLE)
    active = ChatState.ACTIVE.value
    became = f"s.chat_state IN ({states}) AND t.chat_state = '{active}'"
    return f"CASE WHEN {became} THEN :now ELSE t.blocked_at END"


CONTACT_ROWS = ImportKind(
    upsert=lambda conn, slug, rows, now, replace_tags: upsert_contacts(
        conn, slug, rows, now=now, replace_tags=replace_tags
    ),
    merge=Merge(
        table=telegram_contacts,
        key=("telegram_id",),
        columns=(*CONTACT_COLUMNS[1:], "attributes"),
        defaults={"chat_state": f"'{ChatState.ACTIVE.value}'", "updated_at": ":now"},
        touch={"updated_at": ":now", "blocked_at": _unreachable_sql()},
        merged={"attributes": ATTRIBUTES_SQL},
        tagged=True,
    ),
)
EVENT_ROWS = ImportKind(
    upsert=lambda conn, slug, rows, _now, _replace_tags: upsert_events(conn, slug, rows),
    merge=Merge(
        table=funnel_events,
        key=("telegram_id", "event", "occurred_at"),
        columns=("payload",),
        only_giving=True,
    ),
)
TRANSACTION_ROWS = ImportKind(
    upsert=lambda conn, slug, rows, now, _replace_tags: upsert_transactions(
        conn, slug, rows, now=now
    ),
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

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        existed = await self.kind.upsert(
            self.conn, self.bot_slug, rows, self.now, self.replace_tags
        )
        self.new += len(rows) - existed

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
