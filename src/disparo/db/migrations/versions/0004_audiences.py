"""Audiences: contact tags, saved segments, filters on shots, and the send-time rules.

- `contact_tags`: any number of tags per contact (removed with the contact);
- `segments`: a bot's saved filters;
- `shots_queue`: `filter` or `segment_id` (not both), `expires_at`, `stop_on`,
  `ignore_frequency_cap`, and the status `expired`;
- `bots`: the frequency cap (`max_shots_per_contact` within `cap_window_hours`) and quiet hours;
- `idx_shots_sent_contact`: one contact's sent deliveries by time (the cap, `received_shot`).

SQLite cannot change a CHECK constraint in place: `shots_queue` is rebuilt (Alembic's batch
mode). The migration connection runs with foreign keys off (SQLite's default; checked below), so
dropping the old table never cascades into `shots_sent`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disparo.db.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.text("CURRENT_TIMESTAMP")
# Frozen here on purpose: a migration must not change when the code does.
STATUSES_BEFORE = "'pending', 'running', 'paused', 'sent', 'skipped', 'error', 'cancelled'"
STATUSES_AFTER = STATUSES_BEFORE + ", 'expired'"
STATUS_CHECK = "ck_shots_queue_status_valid"
SHOT_COLUMNS = ("filter", "segment_id", "expires_at", "stop_on", "ignore_frequency_cap")
BOT_COLUMNS = ("max_shots_per_contact", "cap_window_hours", "quiet_hours_start", "quiet_hours_end")
SENT_WHERE = sa.text("sent_at IS NOT NULL")


def _foreign_keys_off() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "migration 0004 rebuilds shots_queue and must run with SQLite foreign keys off "
            "(`disparo migrate` does); dropping the old table would delete every delivery"
        )


def upgrade() -> None:
    _foreign_keys_off()
    op.create_table(
        "segments",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_slug"],
            ["bots.slug"],
            name="fk_segments_bot_slug_bots",
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
        sa.UniqueConstraint("bot_slug", "name", name="uq_segments_bot_slug_name"),
    )
    op.create_table(
        "contact_tags",
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_slug", "telegram_id"],
            ["telegram_contacts.bot_slug", "telegram_contacts.telegram_id"],
            name="fk_contact_tags_bot_slug_telegram_contacts",
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bot_slug", "tag", "telegram_id", name="pk_contact_tags"),
    )
    op.create_index("idx_contact_tags_contact", "contact_tags", ["bot_slug", "telegram_id"])
    with op.batch_alter_table("bots") as batch:
        batch.add_column(sa.Column("max_shots_per_contact", sa.Integer()))
        batch.add_column(sa.Column("cap_window_hours", sa.Integer()))
        batch.add_column(sa.Column("quiet_hours_start", sa.Text()))
        batch.add_column(sa.Column("quiet_hours_end", sa.Text()))
        batch.create_check_constraint(
            "ck_bots_frequency_cap_valid",
            "(max_shots_per_contact IS NULL) = (cap_window_hours IS NULL)"
            " AND (max_shots_per_contact IS NULL OR max_shots_per_contact >= 1)"
            " AND (cap_window_hours IS NULL OR cap_window_hours >= 1)",
        )
        batch.create_check_constraint(
            "ck_bots_quiet_hours_valid", "(quiet_hours_start IS NULL) = (quiet_hours_end IS NULL)"
        )
    with op.batch_alter_table("shots_queue") as batch:
        batch.add_column(sa.Column("filter", sa.JSON()))
        batch.add_column(sa.Column("segment_id", sa.BigInteger()))
        batch.add_column(sa.Column("expires_at", UTCDateTime()))
        batch.add_column(sa.Column("stop_on", sa.Text()))
        batch.add_column(
            sa.Column(
                "ignore_frequency_cap", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch.create_foreign_key(
            "fk_shots_queue_segment_id_segments",
            "segments",
            ["segment_id"],
            ["id"],
        )
        batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.create_check_constraint(STATUS_CHECK, f"status IN ({STATUSES_AFTER})")
        batch.create_check_constraint(
            "ck_shots_queue_stop_on_valid", "stop_on IN ('pix_created', 'paid')"
        )
        batch.create_check_constraint(
            "ck_shots_queue_filter_or_segment", "filter IS NULL OR segment_id IS NULL"
        )
    op.create_index(
        "idx_shots_sent_contact",
        "shots_sent",
        ["bot_slug", "telegram_id", "sent_at"],
        postgresql_where=SENT_WHERE,
        sqlite_where=SENT_WHERE,
    )


def downgrade() -> None:
    _foreign_keys_off()
    op.drop_index("idx_shots_sent_contact", table_name="shots_sent")
    # An expired shot becomes what it is closest to before this revision: cancelled.
    op.execute("UPDATE shots_queue SET status = 'cancelled' WHERE status = 'expired'")
    with op.batch_alter_table("shots_queue") as batch:
        batch.drop_constraint("ck_shots_queue_filter_or_segment", type_="check")
        batch.drop_constraint("ck_shots_queue_stop_on_valid", type_="check")
        batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.create_check_constraint(STATUS_CHECK, f"status IN ({STATUSES_BEFORE})")
        batch.drop_constraint("fk_shots_queue_segment_id_segments", type_="foreignkey")
        for column in SHOT_COLUMNS:
            batch.drop_column(column)
    with op.batch_alter_table("bots") as batch:
        batch.drop_constraint("ck_bots_quiet_hours_valid", type_="check")
        batch.drop_constraint("ck_bots_frequency_cap_valid", type_="check")
        for column in BOT_COLUMNS:
            batch.drop_column(column)
    op.drop_index("idx_contact_tags_contact", table_name="contact_tags")
    op.drop_table("contact_tags")
    op.drop_table("segments")
