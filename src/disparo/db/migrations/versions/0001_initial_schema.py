"""Initial schema: bots, contacts, funnel events, payments, shots and deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disparo.db.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.text("CURRENT_TIMESTAMP")


def _bot_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["bot_slug"],
        ["bots.slug"],
        name=f"fk_{table}_bot_slug_bots",
        onupdate="CASCADE",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("telegram_bot_id", sa.BigInteger()),
        sa.Column("telegram_username", sa.Text()),
        sa.Column("rate_per_s", sa.Integer(), server_default=sa.text("25"), nullable=False),
        sa.Column("paid_broadcast", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "timezone", sa.Text(), server_default=sa.text("'America/Sao_Paulo'"), nullable=False
        ),
        sa.Column("webhook_secret", sa.Text(), nullable=False),
        sa.Column("polling", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updates_offset", sa.BigInteger()),
        sa.Column("created_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "rate_per_s >= 1 AND rate_per_s <= 1000", name="ck_bots_rate_per_s_range"
        ),
        sa.PrimaryKeyConstraint("slug", name="pk_bots"),
    )

    op.create_table(
        "shots_queue",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("recency_days", sa.Integer()),
        sa.Column("copy", sa.Text(), nullable=False),
        sa.Column("media_url", sa.Text()),
        sa.Column("media_type", sa.Text(), server_default=sa.text("'none'"), nullable=False),
        sa.Column("buttons", sa.JSON()),
        sa.Column("scheduled_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempt_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("locked_by", sa.Text()),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("audience_total", sa.Integer()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "target IN ('started', 'pix_created')", name="ck_shots_queue_target_valid"
        ),
        sa.CheckConstraint(
            "media_type IN ('photo', 'video', 'audio', 'none')",
            name="ck_shots_queue_media_type_valid",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'paused', 'sent', 'skipped', 'error', 'cancelled')",
            name="ck_shots_queue_status_valid",
        ),
        sa.CheckConstraint(
            "recency_days IS NULL OR recency_days >= 1",
            name="ck_shots_queue_recency_days_positive",
        ),
        _bot_fk("shots_queue"),
        sa.PrimaryKeyConstraint("id", name="pk_shots_queue"),
    )
    op.create_index("idx_shots_queue_scheduled", "shots_queue", ["status", "scheduled_at"])
    op.create_index("idx_shots_queue_slug", "shots_queue", ["bot_slug", "status", "scheduled_at"])
    op.create_index(
        "uq_shots_queue_running_bot",
        "shots_queue",
        ["bot_slug"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )

    op.create_table(
        "shots_sent",
        sa.Column("shot_id", sa.BigInteger(), nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("message_id", sa.BigInteger()),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime()),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'skipped', 'error', 'unknown')",
            name="ck_shots_sent_status_valid",
        ),
        sa.ForeignKeyConstraint(
            ["shot_id"],
            ["shots_queue.id"],
            name="fk_shots_sent_shot_id_shots_queue",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shot_id", "telegram_id", name="pk_shots_sent"),
    )
    op.create_index("idx_shots_sent_shot_id", "shots_sent", ["shot_id", "status", "seq"])
    op.create_index("idx_shots_sent_slug_time", "shots_sent", ["bot_slug", "sent_at"])

    op.create_table(
        "telegram_contacts",
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.Text()),
        sa.Column("last_name", sa.Text()),
        sa.Column("username", sa.Text()),
        sa.Column("language_code", sa.Text()),
        sa.Column("chat_state", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("last_interaction_at", UTCDateTime()),
        sa.Column("blocked_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "chat_state IN ('active', 'blocked', 'deactivated')",
            name="ck_telegram_contacts_chat_state_valid",
        ),
        _bot_fk("telegram_contacts"),
        sa.PrimaryKeyConstraint("bot_slug", "telegram_id", name="pk_telegram_contacts"),
    )
    op.create_index(
        "idx_telegram_contacts_audience",
        "telegram_contacts",
        ["bot_slug", "chat_state", "last_interaction_at", "telegram_id"],
    )
    op.create_index(
        "idx_telegram_contacts_changes", "telegram_contacts", ["bot_slug", "blocked_at"]
    )

    op.create_table(
        "funnel_events",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON()),
        _bot_fk("funnel_events"),
        sa.PrimaryKeyConstraint("id", name="pk_funnel_events"),
        sa.UniqueConstraint(
            "bot_slug",
            "telegram_id",
            "event",
            "occurred_at",
            name="uq_funnel_events_bot_slug_telegram_id_event_occurred_at",
        ),
    )
    op.create_index(
        "idx_funnel_events_audience", "funnel_events", ["bot_slug", "event", "telegram_id"]
    )

    op.create_table(
        "payment_transactions",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), server_default=sa.text("'BRL'"), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.Column("paid_at", UTCDateTime()),
        sa.CheckConstraint(
            "status IN ('created', 'paid', 'expired', 'refunded')",
            name="ck_payment_transactions_status_valid",
        ),
        sa.CheckConstraint(
            "amount_cents >= 0", name="ck_payment_transactions_amount_cents_non_negative"
        ),
        _bot_fk("payment_transactions"),
        sa.PrimaryKeyConstraint("id", name="pk_payment_transactions"),
        sa.UniqueConstraint(
            "bot_slug", "external_id", name="uq_payment_transactions_bot_slug_external_id"
        ),
    )
    op.create_index(
        "idx_payment_transactions_audience",
        "payment_transactions",
        ["bot_slug", "status", "telegram_id"],
    )

    op.create_table(
        "processed_updates",
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        _bot_fk("processed_updates"),
        sa.PrimaryKeyConstraint("bot_slug", "update_id", name="pk_processed_updates"),
    )
    op.create_index("idx_processed_updates_received", "processed_updates", ["received_at"])


def downgrade() -> None:
    for table in (
        "processed_updates",
        "payment_transactions",
        "funnel_events",
        "telegram_contacts",
        "shots_sent",
        "shots_queue",
        "bots",
    ):
        op.drop_table(table)
