"""SQLite: an import's merge writes contacts without the row triggers that index their names and
stamp new ones; the name search's documents of the contacts it touched are rewritten after it.

In the merge of 1.8 million new contacts, those triggers (migrations 0002 and 0014: an FTS5
document, two probes for has_pix and a sum for the total paid, per row) held SQLite's one write
lock 48 s, during which a shot being sent paused (6–9 s before 0014). Each of the five triggers
below now skips while `import_merges` has a row: the merge writes that row first in its write
transaction and deletes it before the commit, so no other connection ever sees it and a failed
merge rolls it back with the rest. The merge stamps has_pix and the total of the contacts it
adds itself, set-based, and lists in `contact_search_stale` every id whose names it added or
changed; after its commit the import rewrites those ids' search documents in short
transactions (`db/import_derived.py`), other writers going between them. Until then a search
takes the listed ids as candidates besides the index's matches (the names are compared as
before), so what it finds never depends on how far the rewriting got. PostgreSQL's triggers are
statement triggers already: nothing changes there.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FLAG = "import_merges"
STALE = "contact_search_stale"
SEARCH_TABLE = "contact_search"
SKIP = f"NOT EXISTS (SELECT 1 FROM {FLAG})"

# Frozen here on purpose (a migration must not change when the code does): the triggers as
# migrations 0002 and 0014 made them.
TRIGGERS = {
    "trg_telegram_contacts_pix_insert": (
        "CREATE TRIGGER trg_telegram_contacts_pix_insert AFTER INSERT ON telegram_contacts WHEN"
        " NEW.has_pix <> (EXISTS (SELECT 1 FROM funnel_events e WHERE e.bot_slug = NEW.bot_slug"
        " AND e.telegram_id = NEW.telegram_id AND e.event IN ('pix_created', "
        "'checkout_pix_created')) OR EXISTS (SELECT 1 FROM payment_transactions p WHERE "
        "p.bot_slug = NEW.bot_slug AND p.telegram_id = NEW.telegram_id AND p.status IN "
        "('created', 'paid'))) BEGIN UPDATE telegram_contacts SET has_pix = NOT has_pix WHERE "
        "bot_slug = NEW.bot_slug AND telegram_id = NEW.telegram_id AND has_pix <> (EXISTS "
        "(SELECT 1 FROM funnel_events e WHERE e.bot_slug = NEW.bot_slug AND e.telegram_id = "
        "NEW.telegram_id AND e.event IN ('pix_created', 'checkout_pix_created')) OR EXISTS "
        "(SELECT 1 FROM payment_transactions p WHERE p.bot_slug = NEW.bot_slug AND "
        "p.telegram_id = NEW.telegram_id AND p.status IN ('created', 'paid'))); END"
    ),
    "trg_telegram_contacts_total_insert": (
        "CREATE TRIGGER trg_telegram_contacts_total_insert AFTER INSERT ON telegram_contacts "
        "WHEN NEW.total_paid_cents <> (SELECT coalesce(sum(p.amount_cents), 0) FROM "
        "payment_transactions p WHERE p.bot_slug = NEW.bot_slug AND p.status = 'paid' AND "
        "p.telegram_id = NEW.telegram_id) BEGIN UPDATE telegram_contacts SET total_paid_cents ="
        " (SELECT coalesce(sum(p.amount_cents), 0) FROM payment_transactions p WHERE p.bot_slug"
        " = NEW.bot_slug AND p.status = 'paid' AND p.telegram_id = NEW.telegram_id) WHERE "
        "bot_slug = NEW.bot_slug AND telegram_id = NEW.telegram_id; END"
    ),
    "trg_telegram_contacts_search_first": (
        "CREATE TRIGGER trg_telegram_contacts_search_first AFTER INSERT ON telegram_contacts "
        "WHEN (NEW.first_name IS NOT NULL OR NEW.last_name IS NOT NULL OR NEW.username IS NOT "
        "NULL) AND NOT EXISTS (SELECT 1 FROM contact_search WHERE rowid = NEW.telegram_id) "
        "BEGIN INSERT INTO contact_search (rowid, names) VALUES (NEW.telegram_id, "
        "coalesce(NEW.first_name, '') || char(10) || coalesce(NEW.last_name, '') || char(10) ||"
        " coalesce(NEW.username, '')); END"
    ),
    "trg_telegram_contacts_search_insert": (
        "CREATE TRIGGER trg_telegram_contacts_search_insert AFTER INSERT ON telegram_contacts "
        "WHEN (NEW.first_name IS NOT NULL OR NEW.last_name IS NOT NULL OR NEW.username IS NOT "
        "NULL) AND EXISTS (SELECT 1 FROM contact_search WHERE rowid = NEW.telegram_id) BEGIN "
        "DELETE FROM contact_search WHERE rowid = NEW.telegram_id AND true; INSERT INTO "
        "contact_search (rowid, names) SELECT NEW.telegram_id, "
        "group_concat(coalesce(first_name, '') || char(10) || coalesce(last_name, '') || "
        "char(10) || coalesce(username, ''), char(10)) FROM telegram_contacts WHERE bot_slug IN"
        " (SELECT slug FROM bots) AND telegram_id = NEW.telegram_id AND true HAVING count(*) > "
        "0; END"
    ),
    "trg_telegram_contacts_search_update": (
        "CREATE TRIGGER trg_telegram_contacts_search_update AFTER UPDATE OF first_name, "
        "last_name, username, telegram_id ON telegram_contacts WHEN OLD.first_name IS NOT "
        "NEW.first_name OR OLD.last_name IS NOT NEW.last_name OR OLD.username IS NOT "
        "NEW.username OR OLD.telegram_id <> NEW.telegram_id BEGIN DELETE FROM contact_search "
        "WHERE rowid = OLD.telegram_id AND true; INSERT INTO contact_search (rowid, names) "
        "SELECT OLD.telegram_id, group_concat(coalesce(first_name, '') || char(10) || "
        "coalesce(last_name, '') || char(10) || coalesce(username, ''), char(10)) FROM "
        "telegram_contacts WHERE bot_slug IN (SELECT slug FROM bots) AND telegram_id = "
        "OLD.telegram_id AND true HAVING count(*) > 0; DELETE FROM contact_search WHERE rowid ="
        " NEW.telegram_id AND OLD.telegram_id <> NEW.telegram_id; INSERT INTO contact_search "
        "(rowid, names) SELECT NEW.telegram_id, group_concat(coalesce(first_name, '') || "
        "char(10) || coalesce(last_name, '') || char(10) || coalesce(username, ''), char(10)) "
        "FROM telegram_contacts WHERE bot_slug IN (SELECT slug FROM bots) AND telegram_id = "
        "NEW.telegram_id AND OLD.telegram_id <> NEW.telegram_id HAVING count(*) > 0; END"
    ),
}


def _skipping(sql: str) -> str:
    """The trigger with `NOT EXISTS (a row in import_merges) AND` before its WHEN clause (first:
    SQLite stops there, before the clause's own lookups)."""
    head, _, rest = sql.partition(" WHEN ")
    when, _, actions = rest.partition(" BEGIN ")
    return f"{head} WHEN {SKIP} AND ({when}) BEGIN {actions}"


def _replace(make: dict[str, str]) -> None:
    for name, sql in make.items():
        op.execute(f"DROP TRIGGER {name}")
        op.execute(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"CREATE TABLE {FLAG} (id INTEGER PRIMARY KEY)")
    op.execute(f"CREATE TABLE {STALE} (telegram_id INTEGER PRIMARY KEY)")
    _replace({name: _skipping(sql) for name, sql in TRIGGERS.items()})


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _replace(TRIGGERS)
    # Documents an import left to rewrite: the whole index again, as migration 0014 made it.
    op.execute(f"DELETE FROM {SEARCH_TABLE}")
    op.execute(
        f"INSERT INTO {SEARCH_TABLE} (rowid, names) SELECT telegram_id,"
        " group_concat(coalesce(first_name, '') || char(10) || coalesce(last_name, '')"
        " || char(10) || coalesce(username, ''), char(10))"
        " FROM telegram_contacts WHERE first_name IS NOT NULL OR last_name IS NOT NULL"
        " OR username IS NOT NULL GROUP BY telegram_id"
    )
    op.execute(f"DROP TABLE {STALE}")
    op.execute(f"DROP TABLE {FLAG}")
