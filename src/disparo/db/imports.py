"""Bulk upserts behind the import routes: contacts, funnel events and payment transactions.

Each function takes one chunk of validated rows with distinct keys (None where the source gave
nothing) and returns how many of them existed before. A None never overwrites a stored value.
An import calls them chunk after chunk inside one write transaction, so it commits whole or not
at all; a chunk sees the rows of the chunks before it (a key given again counts as existing).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Dialect,
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


@dataclass(frozen=True, slots=True)
class _Group:
    """Rows that give the same columns, as one JSON array: one statement writes them all."""

    given: frozenset[str]  # the columns the rows give (not None)
    names: list[str]  # the columns written: the given ones and the defaults
    document: str


def _documents(
    dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]], defaults: dict[str, Any]
) -> list[_Group]:
    """`rows` grouped by the columns they give, each group as one JSON array.

    On SQLite the values go through their columns' bind processors first (times become the
    text SQLAlchemy stores, a payload its JSON text), so json_extract hands over exactly what an
    executemany would have bound.
    """
    groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        values = {k: v for k, v in row.items() if v is not None}
        groups[frozenset(values)].append({**defaults, **values})
    documents = []
    for given, group in groups.items():
        names = list(group[0])
        if dialect.name == "sqlite":
            processors = [
                (name, processor)
                for name in names
                if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            ]
            for row in group:
                for name, processor in processors:
                    row[name] = processor(row[name])
        documents.append(_Group(given, names, orjson.dumps(group).decode()))
    return documents


def _from_document(dialect: Dialect, table: Table, names: Sequence[str]) -> Select[Any]:
    """The rows of the JSON array bound as `rows`, as the columns `names` of `table`."""
    document = bindparam("rows", type_=Text())
    if dialect.name == "sqlite":
        each = func.json_each(document).table_valued("value")
        # WHERE: SQLite's grammar needs one before an upsert's ON CONFLICT.
        return select(*(func.json_extract(each.c.value, f"$.{name}") for name in names)).where(
            true()
        )
    records = func.json_to_recordset(cast(document, JSON)).table_valued(
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

    Each group of rows travels as one JSON document, built in a thread, and is written by one
    statement. An executemany would prepare every row's values on the event loop (~25 µs a
    row), and psycopg would send it row by row, running the has_pix statement triggers once
    per row (3,000 rows/s on PostgreSQL).
    """
    dialect = conn.dialect
    for group in await asyncio.to_thread(_documents, dialect, table, rows, defaults):
        stmt = upsert_into(conn, table).from_select(
            group.names, _from_document(dialect, table, group.names)
        )
        set_ = {name: stmt.excluded[name] for name in group.given if name not in key}
        set_.update(extra_set(group.given, stmt.excluded))
        index = [table.c[name] for name in key]
        if set_:
            stmt = stmt.on_conflict_do_update(index_elements=index, set_=set_)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=index)
        await conn.execute(stmt, {"rows": group.document})


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


async def _count_stored(
    conn: AsyncConnection,
    table: Table,
    bot_slug: str,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> int:
    """How many of `rows` (distinct keys) the bot already has stored, matched on `key`."""
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
    return len(keys & {tuple(r) for r in found})


async def upsert_contacts(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Insert or update contacts; a move from active to blocked/deactivated sets blocked_at."""
    if not rows:
        return 0
    t = telegram_contacts
    existing = await _count_stored(conn, t, bot_slug, ("telegram_id",), rows)

    def blocked_at(given: frozenset[str], new: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {"updated_at": new.updated_at}
        if "chat_state" in given:
            unreachable = new.chat_state.in_(_UNREACHABLE)
            became_unreachable = unreachable & (t.c.chat_state == ChatState.ACTIVE.value)
            changes["blocked_at"] = case((became_unreachable, new.updated_at), else_=t.c.blocked_at)
        return changes

    await _upsert(
        conn,
        t,
        ("bot_slug", "telegram_id"),
        [{"bot_slug": bot_slug, **row} for row in rows],
        defaults={"chat_state": ChatState.ACTIVE.value, "updated_at": now},
        extra_set=blocked_at,
    )
    return existing


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
