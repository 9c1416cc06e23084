"""Recall and edit jobs of a shot's delivered messages.

- `shot_jobs`: a recall (deleteMessage) or an edit (new copy and/or buttons) of one shot, with
  its status, lease and snapshot size; at most one running job per bot (a partial unique
  index);
- `shot_job_items`: its snapshot, one row per delivered message (the message ids, when it was
  sent), with the status and outcome of each;
- `shots_sent.audio_message_id`: an audio shot's first message, which a recall deletes too
  (deliveries made before this revision have none: only their copy can be deleted).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disparo.db.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    # In place on both backends (SQLite 3.35+ adds and drops a plain column without a rebuild,
    # which the triggers of 0007 and 0008 on shots_sent would not survive).
    op.add_column("shots_sent", sa.Column("audio_message_id", sa.BigInteger()))
    op.create_table(
        "shot_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shot_id", sa.BigInteger(), nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("copy", sa.Text()),
        sa.Column("buttons", sa.JSON()),
        sa.Column("change_buttons", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("total", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("locked_by", sa.Text()),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shot_id"], ["shots_queue.id"], name="fk_shot_jobs_shot_id_shots_queue",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_shot_jobs"),
        sa.CheckConstraint("kind IN ('recall', 'edit')", name="ck_shot_jobs_kind_valid"),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'paused', 'done', 'cancelled', 'error')",
            name="ck_shot_jobs_status_valid",
        ),
    )  # fmt: skip
    op.create_index("idx_shot_jobs_due", "shot_jobs", ["status", "created_at"])
    op.create_index("idx_shot_jobs_shot", "shot_jobs", ["shot_id", "id"])
    op.create_index(
        "uq_shot_jobs_running_bot",
        "shot_jobs",
        ["bot_slug"],
        unique=True,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )
    op.create_table(
        "shot_job_items",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("audio_message_id", sa.BigInteger()),
        sa.Column("variant", sa.Text()),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("outcome", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("updated_at", UTCDateTime()),
        sa.ForeignKeyConstraint(
            ["job_id"], ["shot_jobs.id"], name="fk_shot_job_items_job_id_shot_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "telegram_id", name="pk_shot_job_items"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'done', 'skipped', 'error', 'unknown')",
            name="ck_shot_job_items_status_valid",
        ),
    )  # fmt: skip
    op.create_index("idx_shot_job_items_turn", "shot_job_items", ["job_id", "status", "seq"])


def downgrade() -> None:
    op.drop_table("shot_job_items")
    op.drop_table("shot_jobs")
    op.execute("ALTER TABLE shots_sent DROP COLUMN audio_message_id")
