"""Contacts carry `has_pix`, kept right by triggers, so `pix_created` is an index-only count.

A contact has PIX when one of its funnel events is a PIX event or one of its payments is created
or paid. Triggers on funnel_events and payment_transactions set the stamp when such a row
arrives and recompute it when one is deleted or changes key, event or status (an expired payment
clears it when nothing else qualifies), whatever writes the rows (the API, the operator's
platform, COPY); a contact inserted after its sources, or moved to another key, is stamped on
the spot. PostgreSQL: statement triggers over transition tables (set-based, cheap for COPY);
SQLite: row triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The `pix_created` sources as of this revision, frozen here on purpose (a migration must not
# change when the code does). tests/unit/test_pix_stamp_literals.py holds them equal to
# disparo.domain.statuses; changing those needs a new migration that replaces the triggers.
PIX_EVENTS = ("pix_created", "checkout_pix_created")
PIX_PAYMENT_STATUSES = ("created", "paid")

INDEX = "idx_telegram_contacts_pix"
INDEX_COLUMNS = ["bot_slug", "chat_state", "last_interaction_at", "telegram_id", "has_pix"]
# A source table, the column that qualifies its rows, and the values that do.
SOURCES = (
    ("funnel_events", "event", PIX_EVENTS),
    ("payment_transactions", "status", PIX_PAYMENT_STATUSES),
)


def _listed(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _has_pix(slug: str, telegram_id: str) -> str:
    """Whether contact (`slug`, `telegram_id`) has PIX now: one index probe per source."""
    return (
        f"(EXISTS (SELECT 1 FROM funnel_events e WHERE e.bot_slug = {slug}"
        f" AND e.telegram_id = {telegram_id} AND e.event IN {_listed(PIX_EVENTS)})"
        f" OR EXISTS (SELECT 1 FROM payment_transactions p WHERE p.bot_slug = {slug}"
        f" AND p.telegram_id = {telegram_id} AND p.status IN {_listed(PIX_PAYMENT_STATUSES)}))"
    )


def _restamp(row: str) -> str:
    """Set the stamp of the contact `row` (NEW or OLD) points at to the truth, writing only when
    it is wrong (the flip evaluates the sources once; SQLite trigger bodies have no variables)."""
    slug, telegram_id = f"{row}.bot_slug", f"{row}.telegram_id"
    return (
        "UPDATE telegram_contacts SET has_pix = NOT has_pix"
        f" WHERE bot_slug = {slug} AND telegram_id = {telegram_id}"
        f" AND has_pix <> {_has_pix(slug, telegram_id)}"
    )


def _qualifies(row: str, column: str, values: tuple[str, ...]) -> str:
    return f"{row}.{column} IN {_listed(values)}"


def _sqlite_triggers() -> list[str]:
    """Row triggers (SQLite has no other kind). A new qualifying source makes its contact's
    stamp true; a source changed or deleted recomputes the old and the new contact's."""
    new_contact = _has_pix("NEW.bot_slug", "NEW.telegram_id")
    statements = [
        # Sources may arrive before their contact; the stamp is never taken from the writer.
        "CREATE TRIGGER trg_telegram_contacts_pix_insert AFTER INSERT ON telegram_contacts"
        f" WHEN NEW.has_pix <> {new_contact} BEGIN {_restamp('NEW')}; END",
        "CREATE TRIGGER trg_telegram_contacts_pix_update"
        f" AFTER UPDATE OF bot_slug, telegram_id ON telegram_contacts BEGIN {_restamp('NEW')}; END",
    ]
    for table, column, values in SOURCES:
        statements += [
            f"CREATE TRIGGER trg_{table}_pix_insert AFTER INSERT ON {table}"
            f" WHEN {_qualifies('NEW', column, values)} BEGIN UPDATE telegram_contacts"
            " SET has_pix = true WHERE bot_slug = NEW.bot_slug AND telegram_id = NEW.telegram_id"
            " AND NOT has_pix; END",
            f"CREATE TRIGGER trg_{table}_pix_update"
            f" AFTER UPDATE OF bot_slug, telegram_id, {column} ON {table}"
            f" WHEN {_qualifies('OLD', column, values)} OR {_qualifies('NEW', column, values)}"
            f" BEGIN {_restamp('OLD')}; {_restamp('NEW')}; END",
            f"CREATE TRIGGER trg_{table}_pix_delete AFTER DELETE ON {table}"
            f" WHEN {_qualifies('OLD', column, values)} BEGIN {_restamp('OLD')}; END",
        ]
    return statements


def _touched(rows: str, column: str, values: tuple[str, ...]) -> str:
    """The contacts a transition table's qualifying rows point at."""
    return f"SELECT DISTINCT bot_slug, telegram_id FROM {rows} WHERE {column} IN {_listed(values)}"


def _postgresql_source_function(table: str, column: str, values: tuple[str, ...]) -> str:
    """Statement trigger function over the transition tables: one set-based UPDATE per COPY or
    multi-row statement instead of one per row (a COPY of 200,000 PIX events: 31 s, not 53 s).
    EXECUTE plans each run for the row counts at hand; a cached plan would keep the one made
    for whichever statement came first (one row, or a COPY of thousands)."""
    old, new = _touched("old_rows", column, values), _touched("new_rows", column, values)
    return f"""
    CREATE FUNCTION disparo_{table}_pix() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            UPDATE telegram_contacts c SET has_pix = false
            WHERE c.has_pix AND NOT {_has_pix("c.bot_slug", "c.telegram_id")};
            RETURN NULL;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            EXECUTE $q$
                UPDATE telegram_contacts c SET has_pix = false FROM ({old}) o
                WHERE c.bot_slug = o.bot_slug AND c.telegram_id = o.telegram_id AND c.has_pix
                    AND NOT {_has_pix("c.bot_slug", "c.telegram_id")}
            $q$;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            EXECUTE $q$
                UPDATE telegram_contacts c SET has_pix = true FROM ({new}) n
                WHERE c.bot_slug = n.bot_slug AND c.telegram_id = n.telegram_id AND NOT c.has_pix
            $q$;
        END IF;
        RETURN NULL;
    END $fn$
    """


def _postgresql_contact_functions() -> list[str]:
    sources = (
        "SELECT e.bot_slug, e.telegram_id FROM new_rows n JOIN funnel_events e"
        " ON e.bot_slug = n.bot_slug AND e.telegram_id = n.telegram_id"
        f" WHERE e.event IN {_listed(PIX_EVENTS)}"
        " UNION SELECT p.bot_slug, p.telegram_id FROM new_rows n JOIN payment_transactions p"
        " ON p.bot_slug = n.bot_slug AND p.telegram_id = n.telegram_id"
        f" WHERE p.status IN {_listed(PIX_PAYMENT_STATUSES)}"
    )
    return [
        # New contacts, per statement: sources may arrive before their contact, and the stamp
        # is never taken from the writer (a wrong true is cleared first).
        f"""
        CREATE FUNCTION disparo_new_contacts_pix() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            EXECUTE $q$
                UPDATE telegram_contacts c SET has_pix = false FROM new_rows n
                WHERE c.bot_slug = n.bot_slug AND c.telegram_id = n.telegram_id AND n.has_pix
                    AND NOT {_has_pix("n.bot_slug", "n.telegram_id")}
            $q$;
            EXECUTE $q$
                UPDATE telegram_contacts c SET has_pix = true FROM ({sources}) s
                WHERE c.bot_slug = s.bot_slug AND c.telegram_id = s.telegram_id AND NOT c.has_pix
            $q$;
            RETURN NULL;
        END $fn$
        """,
        # A contact moved to another key (a bot's slug renamed: ON UPDATE CASCADE), per row.
        f"""
        CREATE FUNCTION disparo_moved_contact_pix() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            NEW.has_pix := {_has_pix("NEW.bot_slug", "NEW.telegram_id")};
            RETURN NEW;
        END $fn$
        """,
    ]


def _postgresql_triggers() -> list[str]:
    """Statement triggers with transition tables (an UPDATE trigger cannot name columns then,
    so it runs on every UPDATE; over no qualifying row its two statements find nothing)."""
    statements = [
        *(_postgresql_source_function(*source) for source in SOURCES),
        *_postgresql_contact_functions(),
        "CREATE TRIGGER trg_telegram_contacts_pix_insert AFTER INSERT ON telegram_contacts"
        " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION disparo_new_contacts_pix()",
        "CREATE TRIGGER trg_telegram_contacts_pix_update"
        " BEFORE UPDATE OF bot_slug, telegram_id ON telegram_contacts FOR EACH ROW"
        " EXECUTE FUNCTION disparo_moved_contact_pix()",
    ]
    transitions = {
        "insert": "REFERENCING NEW TABLE AS new_rows",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "REFERENCING OLD TABLE AS old_rows",
        "truncate": "",
    }
    for table, _, _ in SOURCES:
        statements += [
            f"CREATE TRIGGER trg_{table}_pix_{operation} AFTER {operation.upper()} ON {table}"
            f" {referencing} FOR EACH STATEMENT EXECUTE FUNCTION disparo_{table}_pix()"
            for operation, referencing in transitions.items()
        ]
    return statements


def _trigger_names(sqlite: bool) -> list[tuple[str, str]]:
    """(trigger, table) of every trigger this revision creates on the backend."""
    operations = ["insert", "update", "delete"] + ([] if sqlite else ["truncate"])
    names = [(f"trg_{table}_pix_{each}", table) for table, _, _ in SOURCES for each in operations]
    return [
        *names,
        *(
            (f"trg_telegram_contacts_pix_{each}", "telegram_contacts")
            for each in ("insert", "update")
        ),
    ]


FUNCTIONS = (
    "disparo_funnel_events_pix",
    "disparo_payment_transactions_pix",
    "disparo_new_contacts_pix",
    "disparo_moved_contact_pix",
)


def upgrade() -> None:
    op.add_column(
        "telegram_contacts",
        sa.Column("has_pix", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # Triggers before the backfill: on PostgreSQL creating them locks the source tables against
    # writes until this migration commits, so a row is either seen by the backfill or, written
    # after the commit, stamps its contact through the trigger.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_triggers() if sqlite else _postgresql_triggers():
        op.execute(statement)
    op.execute(
        "UPDATE telegram_contacts SET has_pix = true WHERE (bot_slug, telegram_id) IN ("
        f"SELECT bot_slug, telegram_id FROM funnel_events WHERE event IN {_listed(PIX_EVENTS)}"
        " UNION SELECT bot_slug, telegram_id FROM payment_transactions"
        f" WHERE status IN {_listed(PIX_PAYMENT_STATUSES)})"
    )
    op.create_index(
        INDEX,
        "telegram_contacts",
        INDEX_COLUMNS,
        postgresql_where=sa.text("has_pix"),
        sqlite_where=sa.text("has_pix = 1"),
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for trigger, table in _trigger_names(sqlite):
        op.execute(f"DROP TRIGGER {trigger}" if sqlite else f"DROP TRIGGER {trigger} ON {table}")
    if not sqlite:
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index(INDEX, table_name="telegram_contacts")
    op.drop_column("telegram_contacts", "has_pix")
