"""Contacts carry `total_paid_cents`, kept right by triggers, and their names get a trigram index:
the contacts table's "total paid" sort walks an index and a search that finds nobody is a probe.

The total is the sum of the contact's `paid` payments. Triggers on payment_transactions add the
difference each written row makes (a payment inserted, turned paid or away from paid, its
amount changed, moved to another contact, deleted); a contact inserted after its payments, or
moved to another key, is summed on the spot. Adding differences, not re-summing, keeps two
transactions paying the same contact at once right (each adds to the row it locks).
PostgreSQL: statement triggers over transition tables (one UPDATE per COPY or multi-row
statement); SQLite: row triggers, which write only when the total changes.

The search (first name, last name, username, any case, a substring): PostgreSQL gets a GIN
trigram index (`pg_trgm`) over exactly the expressions the query compares; SQLite an FTS5 table
with the trigram tokenizer, one document per telegram_id holding the names of that id's contacts
in every bot, kept by triggers on telegram_contacts. Both only narrow the candidates: the query
still compares the names as before, so what matches does not change. The pg_trgm extension
stays on downgrade (other schemas may use it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Frozen here on purpose (a migration must not change when the code does): the paid status.
PAID = "'paid'"
TOTAL_INDEX = "idx_telegram_contacts_total_paid"
SEARCH_INDEX = "idx_telegram_contacts_search"  # PostgreSQL
SEARCH_TABLE = "contact_search"  # SQLite
NAMES = ("first_name", "last_name", "username")


def _sum(slug: str, telegram_id: str) -> str:
    """The paid total of contact (`slug`, `telegram_id`), from the payments' status index."""
    return (
        "(SELECT coalesce(sum(p.amount_cents), 0) FROM payment_transactions p"
        f" WHERE p.bot_slug = {slug} AND p.status = {PAID} AND p.telegram_id = {telegram_id})"
    )


def _add(row: str, sign: str) -> str:
    """Add (`+`) or take away (`-`) payment `row`'s amount from its contact if it is paid."""
    return (
        "UPDATE telegram_contacts"
        f" SET total_paid_cents = total_paid_cents {sign} {row}.amount_cents"
        f" WHERE {row}.status = {PAID} AND {row}.amount_cents <> 0"
        f" AND bot_slug = {row}.bot_slug AND telegram_id = {row}.telegram_id"
    )


def _resum(row: str) -> str:
    total = _sum(f"{row}.bot_slug", f"{row}.telegram_id")
    return (
        f"UPDATE telegram_contacts SET total_paid_cents = {total}"
        f" WHERE bot_slug = {row}.bot_slug AND telegram_id = {row}.telegram_id"
    )


def _sqlite_total_triggers() -> list[str]:
    # A rewrite that changes nothing paid (an import re-sending a row) writes nothing.
    changed = (
        f"(OLD.status = {PAID}) <> (NEW.status = {PAID}) OR (NEW.status = {PAID}"
        " AND (OLD.amount_cents <> NEW.amount_cents OR OLD.bot_slug <> NEW.bot_slug"
        " OR OLD.telegram_id <> NEW.telegram_id))"
    )
    return [
        "CREATE TRIGGER trg_payment_transactions_total_insert AFTER INSERT ON payment_transactions"
        f" WHEN NEW.status = {PAID} BEGIN {_add('NEW', '+')}; END",
        "CREATE TRIGGER trg_payment_transactions_total_update"
        " AFTER UPDATE OF bot_slug, telegram_id, status, amount_cents ON payment_transactions"
        f" WHEN {changed} BEGIN {_add('OLD', '-')}; {_add('NEW', '+')}; END",
        "CREATE TRIGGER trg_payment_transactions_total_delete AFTER DELETE ON payment_transactions"
        f" WHEN OLD.status = {PAID} BEGIN {_add('OLD', '-')}; END",
        # Payments may arrive before their contact; the total is never taken from the writer.
        "CREATE TRIGGER trg_telegram_contacts_total_insert AFTER INSERT ON telegram_contacts"
        f" WHEN NEW.total_paid_cents <> {_sum('NEW.bot_slug', 'NEW.telegram_id')}"
        f" BEGIN {_resum('NEW')}; END",
        "CREATE TRIGGER trg_telegram_contacts_total_update"
        " AFTER UPDATE OF bot_slug, telegram_id ON telegram_contacts"
        " WHEN OLD.bot_slug <> NEW.bot_slug OR OLD.telegram_id <> NEW.telegram_id"
        f" BEGIN {_resum('NEW')}; END",
    ]


def _paid(rows: str, sign: str) -> str:
    return (
        f"SELECT bot_slug, telegram_id, {sign}amount_cents AS amount FROM {rows}"
        f" WHERE status = {PAID}"
    )


def _apply(*parts: str) -> str:
    """One UPDATE adding each contact's difference (the transition tables' paid rows)."""
    union = " UNION ALL ".join(parts)
    return f"""
            EXECUTE $q$
                UPDATE telegram_contacts c SET total_paid_cents = c.total_paid_cents + d.amount
                FROM (SELECT bot_slug, telegram_id, sum(amount) AS amount FROM ({union}) x
                      GROUP BY bot_slug, telegram_id HAVING sum(amount) <> 0) d
                WHERE c.bot_slug = d.bot_slug AND c.telegram_id = d.telegram_id
            $q$;"""


def _postgresql_total_triggers() -> list[str]:
    """Statement triggers; EXECUTE plans each run for the row counts at hand (as in 0002)."""
    new, old = _paid("new_rows", ""), _paid("old_rows", "-")
    truth = (
        "SELECT n.bot_slug, n.telegram_id, n.total_paid_cents AS given,"
        " coalesce(sum(p.amount_cents), 0) AS total FROM new_rows n"
        " LEFT JOIN payment_transactions p ON p.bot_slug = n.bot_slug"
        f" AND p.status = {PAID} AND p.telegram_id = n.telegram_id"
        " GROUP BY n.bot_slug, n.telegram_id, n.total_paid_cents"
    )
    statements = [
        f"""
        CREATE FUNCTION disparo_payment_transactions_total() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                UPDATE telegram_contacts SET total_paid_cents = 0 WHERE total_paid_cents <> 0;
            ELSIF TG_OP = 'INSERT' THEN {_apply(new)}
            ELSIF TG_OP = 'UPDATE' THEN {_apply(old, new)}
            ELSE {_apply(old)}
            END IF;
            RETURN NULL;
        END $fn$
        """,
        # New contacts, per statement: payments may arrive before their contact.
        f"""
        CREATE FUNCTION disparo_new_contacts_total() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            EXECUTE $q$
                UPDATE telegram_contacts c SET total_paid_cents = t.total FROM ({truth}) t
                WHERE c.bot_slug = t.bot_slug AND c.telegram_id = t.telegram_id
                    AND t.total <> t.given
            $q$;
            RETURN NULL;
        END $fn$
        """,
        # A contact moved to another key (a bot's slug renamed: ON UPDATE CASCADE), per row.
        f"""
        CREATE FUNCTION disparo_moved_contact_total() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            NEW.total_paid_cents := {_sum("NEW.bot_slug", "NEW.telegram_id")};
            RETURN NEW;
        END $fn$
        """,
        "CREATE TRIGGER trg_telegram_contacts_total_insert AFTER INSERT ON telegram_contacts"
        " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION disparo_new_contacts_total()",
        "CREATE TRIGGER trg_telegram_contacts_total_update"
        " BEFORE UPDATE OF bot_slug, telegram_id ON telegram_contacts FOR EACH ROW"
        " WHEN (OLD.bot_slug <> NEW.bot_slug OR OLD.telegram_id <> NEW.telegram_id)"
        " EXECUTE FUNCTION disparo_moved_contact_total()",
    ]
    transitions = {
        "insert": "REFERENCING NEW TABLE AS new_rows",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "REFERENCING OLD TABLE AS old_rows",
        "truncate": "",
    }
    statements += [
        f"CREATE TRIGGER trg_payment_transactions_total_{operation} AFTER {operation.upper()}"
        f" ON payment_transactions {referencing} FOR EACH STATEMENT"
        " EXECUTE FUNCTION disparo_payment_transactions_total()"
        for operation, referencing in transitions.items()
    ]
    return statements


def _document(telegram_id: str, when: str = "true") -> str:
    """Re-index `telegram_id` (if `when`): its names in every bot, one document (a probe per
    bot's key)."""
    names = " || char(10) || ".join(f"coalesce({name}, '')" for name in NAMES)
    return (
        f"DELETE FROM {SEARCH_TABLE} WHERE rowid = {telegram_id} AND {when};"
        f" INSERT INTO {SEARCH_TABLE} (rowid, names) SELECT {telegram_id},"
        f" group_concat({names}, char(10)) FROM telegram_contacts"
        f" WHERE bot_slug IN (SELECT slug FROM bots) AND telegram_id = {telegram_id} AND {when}"
        " HAVING count(*) > 0;"
    )


def _sqlite_search() -> list[str]:
    named = " OR ".join(f"{{row}}.{name} IS NOT NULL" for name in NAMES)
    renamed = " OR ".join(f"OLD.{name} IS NOT NEW.{name}" for name in NAMES)
    indexed = f"EXISTS (SELECT 1 FROM {SEARCH_TABLE} WHERE rowid = NEW.telegram_id)"
    doc = " || char(10) || ".join(f"coalesce(NEW.{name}, '')" for name in NAMES)
    return [
        f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(names, tokenize='trigram')",
        # A new id (the common case: one bot) is written as it is, without re-reading the
        # contacts; an id another bot already has is re-indexed whole. The first trigger's
        # condition is read after the second (created later, fired first) ran.
        "CREATE TRIGGER trg_telegram_contacts_search_first AFTER INSERT ON telegram_contacts"
        f" WHEN ({named.format(row='NEW')}) AND NOT {indexed}"
        f" BEGIN INSERT INTO {SEARCH_TABLE} (rowid, names) VALUES (NEW.telegram_id, {doc}); END",
        "CREATE TRIGGER trg_telegram_contacts_search_insert AFTER INSERT ON telegram_contacts"
        f" WHEN ({named.format(row='NEW')}) AND {indexed}"
        f" BEGIN {_document('NEW.telegram_id')} END",
        "CREATE TRIGGER trg_telegram_contacts_search_update AFTER UPDATE OF"
        f" {', '.join(NAMES)}, telegram_id ON telegram_contacts"
        f" WHEN {renamed} OR OLD.telegram_id <> NEW.telegram_id"
        f" BEGIN {_document('OLD.telegram_id')}"
        f" {_document('NEW.telegram_id', 'OLD.telegram_id <> NEW.telegram_id')} END",
        "CREATE TRIGGER trg_telegram_contacts_search_delete AFTER DELETE ON telegram_contacts"
        f" WHEN {named.format(row='OLD')} BEGIN {_document('OLD.telegram_id')} END",
        f"INSERT INTO {SEARCH_TABLE} (rowid, names) SELECT telegram_id, group_concat("
        + " || char(10) || ".join(f"coalesce({name}, '')" for name in NAMES)
        + ", char(10)) FROM telegram_contacts WHERE "
        + " OR ".join(f"{name} IS NOT NULL" for name in NAMES)
        + " GROUP BY telegram_id",
    ]


def upgrade() -> None:
    op.add_column(
        "telegram_contacts",
        sa.Column("total_paid_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    # Triggers before the backfill: on PostgreSQL creating them locks payment_transactions
    # against writes until this migration commits, so no payment is counted twice or missed.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_total_triggers() if sqlite else _postgresql_total_triggers():
        op.execute(statement)
    op.execute(
        "UPDATE telegram_contacts SET total_paid_cents = t.total FROM (SELECT bot_slug,"
        " telegram_id, sum(amount_cents) AS total FROM payment_transactions"
        f" WHERE status = {PAID} GROUP BY bot_slug, telegram_id) t"
        " WHERE telegram_contacts.bot_slug = t.bot_slug"
        " AND telegram_contacts.telegram_id = t.telegram_id"
    )
    op.create_index(
        TOTAL_INDEX, "telegram_contacts", ["bot_slug", "total_paid_cents", "telegram_id"]
    )
    if sqlite:
        for statement in _sqlite_search():
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        expressions = ", ".join(f"lower({name}) gin_trgm_ops" for name in NAMES)
        op.execute(f"CREATE INDEX {SEARCH_INDEX} ON telegram_contacts USING gin ({expressions})")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for operation in ("first", "insert", "update", "delete"):
            op.execute(f"DROP TRIGGER trg_telegram_contacts_search_{operation}")
        op.execute(f"DROP TABLE {SEARCH_TABLE}")
    else:
        op.execute(f"DROP INDEX {SEARCH_INDEX}")
    payments = ["insert", "update", "delete"] + ([] if sqlite else ["truncate"])
    triggers = [
        (f"trg_payment_transactions_total_{each}", "payment_transactions") for each in payments
    ]
    triggers += [
        (f"trg_telegram_contacts_total_{each}", "telegram_contacts")
        for each in ("insert", "update")
    ]
    for trigger, table in triggers:
        op.execute(f"DROP TRIGGER {trigger}" if sqlite else f"DROP TRIGGER {trigger} ON {table}")
    if not sqlite:
        for function in ("payment_transactions", "new_contacts", "moved_contact"):
            op.execute(f"DROP FUNCTION disparo_{function}_total()")
    op.drop_index(TOTAL_INDEX, table_name="telegram_contacts")
    op.drop_column("telegram_contacts", "total_paid_cents")
