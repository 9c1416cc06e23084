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
    or_,
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


async def upsert_contacts(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Insert or update contacts; a move from active to blocked/deactivated sets blocked_at."""
    if not rows:
        return 0
    t = telegram_contacts
    ids = [row["telegram_id"] for row in rows]
    existing = set(
        await conn.scalars(
            select(t.c.telegram_id).where(t.c.bot_slug == bot_slug, t.c.telegram_id.in_(ids))
        )
    )

    def blocked_at(given: frozenset[str], new: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {"updated_at": new.updated_at}
        if "chat_state" in given:
            # OR of equalities, not IN: an expanding IN cannot go through executemany.
            unreachable = or_(*(new.chat_state == state for state in _UNREACHABLE))
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
    return len(existing)


async def upsert_events(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]]
) -> int:
    """Insert funnel events; an event already known gets the new payload, if one is given."""
    if not rows:
        return 0
    t = funnel_events
    ids = {row["telegram_id"] for row in rows}
    found = await conn.execute(
        select(t.c.telegram_id, t.c.event, t.c.occurred_at).where(
            t.c.bot_slug == bot_slug, t.c.telegram_id.in_(ids)
        )
    )
    known = {tuple(r) for r in found}
    await _upsert(
        conn,
        t,
        ("bot_slug", "telegram_id", "event", "occurred_at"),
        [{"bot_slug": bot_slug, **row} for row in rows],
        defaults={},
    )
    return sum(1 for r in rows if (r["telegram_id"], r["event"], r["occurred_at"]) in known)


async def upsert_transactions(
    conn: AsyncConnection, bot_slug: str, rows: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Insert or update payment transactions, matched on their `external_id`."""
    if not rows:
        return 0
    t = payment_transactions
    existing = set(
        await conn.scalars(
            select(t.c.external_id).where(
                t.c.bot_slug == bot_slug,
                t.c.external_id.in_([row["external_id"] for row in rows]),
            )
        )
    )
    await _upsert(
        conn,
        t,
        ("bot_slug", "external_id"),
        [{"bot_slug": bot_slug, **row} for row in rows],
        defaults={"currency": "BRL", "created_at": now},
    )
    return len(existing)
