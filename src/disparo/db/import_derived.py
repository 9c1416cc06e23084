"""SQLite: what the contacts' row triggers keep, written by an import's merge for the rows it
touches, set-based (migration 0016).

The merge writes a row into `import_merges` first, which makes the insert triggers of
telegram_contacts and its name-search update trigger skip; it lists in `contact_search_stale`
every id whose names it changes or adds (before its update, by comparing the staged names with
the stored ones), lists the keys it adds in `temp.fresh`, inserts them, stamps their has_pix
(a PIX event, or a created or paid payment) and total_paid_cents (their paid payments: they may
arrive before their contact) as the skipped triggers would, and deletes the flag row before its
commit. Afterwards `rewrite_stale` rewrites the listed ids' search documents (the names of their
contacts in every bot) in transactions of `REWRITE_CHUNK` ids; until then a search takes the
listed ids as candidates (`contact_browse`).
"""

from __future__ import annotations

import logging
import sqlite3

from disparo.db.tables_contacts import IMPORT_MERGES, SEARCH_TABLE, STALE_SEARCH
from disparo.domain.statuses import PIX_EVENTS, PIX_PAYMENT_STATUSES, PaymentStatus

log = logging.getLogger("disparo.db.import_derived")

NAMES = ("first_name", "last_name", "username")
REWRITE_CHUNK = 20_000  # ids a transaction: ~0.1-0.3 s of the write lock on a 2-core machine


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


_FRESH = "telegram_id IN (SELECT telegram_id FROM temp.fresh)"
_CONTACT = "e.bot_slug = :slug AND e.telegram_id = c.telegram_id"
_PIX = (
    f"(EXISTS (SELECT 1 FROM main.funnel_events e WHERE {_CONTACT}"
    f" AND e.event IN ({_listed(PIX_EVENTS)}))"
    f" OR EXISTS (SELECT 1 FROM main.payment_transactions e WHERE {_CONTACT}"
    f" AND e.status IN ({_listed(PIX_PAYMENT_STATUSES)})))"
)
_PAID = (
    "(SELECT coalesce(sum(e.amount_cents), 0) FROM main.payment_transactions e"
    f" WHERE {_CONTACT} AND e.status = '{PaymentStatus.PAID.value}')"
)
_RENAMED = " OR ".join(f"(s.{name} IS NOT NULL AND s.{name} IS NOT t.{name})" for name in NAMES)

BEFORE_UPDATE = (
    f"INSERT INTO main.{IMPORT_MERGES} DEFAULT VALUES",
    f"INSERT OR IGNORE INTO main.{STALE_SEARCH} SELECT s.telegram_id FROM stage.rows AS s"
    " JOIN main.telegram_contacts AS t ON t.bot_slug = :slug AND t.telegram_id = s.telegram_id"
    f" WHERE {_RENAMED}",
)
"""Before the merge's update: the triggers skip from here on; the ids it renames are listed."""

BEFORE_INSERT = (
    "CREATE TEMP TABLE fresh (telegram_id INTEGER PRIMARY KEY)",
    "INSERT INTO temp.fresh SELECT s.telegram_id FROM stage.rows AS s WHERE NOT EXISTS"
    " (SELECT 1 FROM main.telegram_contacts AS t"
    " WHERE t.bot_slug = :slug AND t.telegram_id = s.telegram_id)",
)
"""Before the merge's insert: the keys it adds."""

AFTER_INSERT = (
    f"UPDATE main.telegram_contacts AS c SET has_pix = {_PIX}"
    f" WHERE c.bot_slug = :slug AND c.{_FRESH} AND c.has_pix <> {_PIX}",
    f"UPDATE main.telegram_contacts AS c SET total_paid_cents = {_PAID}"
    f" WHERE c.bot_slug = :slug AND c.{_FRESH} AND c.total_paid_cents <> {_PAID}",
    f"INSERT OR IGNORE INTO main.{STALE_SEARCH} SELECT telegram_id FROM temp.fresh",
    "DROP TABLE temp.fresh",
    f"DELETE FROM main.{IMPORT_MERGES}",
)
"""After the merge's insert, in its transaction: the added contacts' stamps; the flag gone."""

_DOCUMENT = " || char(10) || ".join(f"coalesce({name}, '')" for name in NAMES)
_REWRITE = (
    "CREATE TEMP TABLE IF NOT EXISTS rewriting (telegram_id INTEGER PRIMARY KEY)",
    "DELETE FROM temp.rewriting",
    f"INSERT INTO temp.rewriting SELECT telegram_id FROM main.{STALE_SEARCH}"
    " ORDER BY telegram_id LIMIT :chunk",
    f"DELETE FROM main.{SEARCH_TABLE} WHERE rowid IN (SELECT telegram_id FROM temp.rewriting)",
    f"INSERT INTO main.{SEARCH_TABLE} (rowid, names)"
    f" SELECT telegram_id, group_concat({_DOCUMENT}, char(10)) FROM main.telegram_contacts"
    " WHERE bot_slug IN (SELECT slug FROM main.bots)"
    " AND telegram_id IN (SELECT telegram_id FROM temp.rewriting) GROUP BY telegram_id"
    " HAVING max(" + " OR ".join(f"{name} IS NOT NULL" for name in NAMES) + ")",
    f"DELETE FROM main.{STALE_SEARCH}"
    " WHERE telegram_id IN (SELECT telegram_id FROM temp.rewriting)",
)


def rewrite_stale(database: sqlite3.Connection, chunk: int = REWRITE_CHUNK) -> int:
    """Rewrite the search documents of the listed ids, `chunk` ids a write transaction, until
    none is listed; how many were rewritten. `database` is in autocommit mode."""
    done = 0
    while True:
        database.execute("BEGIN IMMEDIATE")
        try:
            for statement in _REWRITE:
                cursor = database.execute(statement, {"chunk": chunk})
            database.execute("COMMIT")
        except BaseException:
            database.execute("ROLLBACK")
            raise
        done += cursor.rowcount
        if cursor.rowcount < chunk:
            return done


def rewrite_stale_or_log(database: sqlite3.Connection) -> None:
    """`rewrite_stale` after a merge committed: a failure is logged, not raised (the import is
    stored; the ids stay listed, a search stays right, and the next import rewrites them)."""
    try:
        rewrite_stale(database)
    except sqlite3.Error as exc:
        log.warning(
            "[IMPORT] the search documents of the imported contacts were not all rewritten"
            " (%s); searches still find them, and the next import rewrites them",
            exc,
        )
