"""Outgoing webhooks: the endpoints and the outbox of events delivered to them.

- `webhook_endpoints`: a receiver's URL, the event types it wants (comma-separated), one bot or
  every bot (NULL), and its signing secret (sealed like bot tokens);
- `webhook_deliveries`: the outbox, one row per event and endpoint, written in the transaction
  of the change it reports; the delivery loop claims due pending rows (a lease in
  `locked_until`), and records each attempt's answer, the next attempt's time, and the end
  (`delivered` or `failed`);
- a trigger on `shot_conversions` writes a `conversion` event for each new conversion (rows
  only the triggers of 0007 write), for the endpoints that want it, in the same transaction.

PostgreSQL: a statement trigger over the transition table; SQLite: a row trigger.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disparo.db.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Frozen here on purpose: a migration must not change when the code does.
PENDING = "status = 'pending'"
COLUMNS = "endpoint_id, event_id, type, data, created_at, status, attempts, next_attempt_at"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
SQLITE_TRIGGER = "trg_webhook_deliveries_conversion"
PG_TRIGGER = "trg_webhook_deliveries_conversion"
PG_FUNCTION = "disparo_webhook_conversion"


def _subscribed(events: str) -> str:
    """The endpoint `e` wants conversions (its events hold 'conversion' as one item)."""
    return f"instr(',' || {events} || ',', ',conversion,') > 0"


def _sqlite_trigger() -> str:
    data = (
        "json_object('shot_id', NEW.shot_id, 'bot_slug', q.bot_slug, 'telegram_id',"
        " NEW.telegram_id, 'event', NEW.event, 'variant', NEW.variant, 'converted_at',"
        " strftime('%Y-%m-%dT%H:%M:%fZ', NEW.converted_at), 'revenue_cents', NEW.revenue_cents)"
    )
    return (
        f"CREATE TRIGGER {SQLITE_TRIGGER} AFTER INSERT ON shot_conversions BEGIN"
        f" INSERT INTO webhook_deliveries ({COLUMNS})"
        f" SELECT e.id, 'evt_' || lower(hex(randomblob(16))), 'conversion', {data},"
        f" {SQLITE_NOW}, 'pending', 0, {SQLITE_NOW}"
        " FROM webhook_endpoints e JOIN shots_queue q ON q.id = NEW.shot_id"
        f" WHERE {_subscribed('e.events')} AND (e.bot_slug IS NULL OR e.bot_slug = q.bot_slug);"
        " END"
    )


def _pg_statements() -> list[str]:
    wanted = "position(',conversion,' in ',' || e.events || ',') > 0"
    data = (
        "json_build_object('shot_id', n.shot_id, 'bot_slug', q.bot_slug, 'telegram_id',"
        " n.telegram_id, 'event', n.event, 'variant', n.variant, 'converted_at',"
        " to_char(n.converted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " 'revenue_cents', n.revenue_cents)"
    )
    # Without an endpoint that wants conversions, the trigger costs one look at a tiny table.
    return [
        f"""
        CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF EXISTS (SELECT 1 FROM webhook_endpoints e WHERE {wanted}) THEN
                INSERT INTO webhook_deliveries ({COLUMNS})
                SELECT e.id, 'evt_' || replace(gen_random_uuid()::text, '-', ''), 'conversion',
                    {data}, now(), 'pending', 0, now()
                FROM new_rows n JOIN shots_queue q ON q.id = n.shot_id
                JOIN webhook_endpoints e ON {wanted}
                    AND (e.bot_slug IS NULL OR e.bot_slug = q.bot_slug);
            END IF;
            RETURN NULL;
        END $fn$
        """,
        f"CREATE TRIGGER {PG_TRIGGER} AFTER INSERT ON shot_conversions"
        " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        f" EXECUTE FUNCTION {PG_FUNCTION}()",
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", big_id, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("bot_slug", sa.Text()),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_slug"],
            ["bots.slug"],
            name="fk_webhook_endpoints_bot_slug_bots",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", big_id, nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("locked_until", UTCDateTime()),
        sa.Column("last_attempt_at", UTCDateTime()),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_response", sa.Text()),
        sa.Column("last_error", sa.Text()),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("event_id", name="uq_webhook_deliveries_event_id"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name="ck_webhook_deliveries_status_valid",
        ),
    )
    op.create_index(
        "idx_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )
    op.create_index("idx_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "id"])
    for statement in [_sqlite_trigger()] if sqlite else _pg_statements():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER {SQLITE_TRIGGER}")
    else:
        op.execute(f"DROP TRIGGER {PG_TRIGGER} ON shot_conversions")
        op.execute(f"DROP FUNCTION {PG_FUNCTION}()")
    op.drop_index("idx_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.drop_index("idx_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
