"""Recall and edit jobs (migration 0010): what an operator asked to do to a shot's delivered
messages, and each recipient's message with what happened to it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    false,
    text,
)

from disparo.db.table_base import metadata, timestamps
from disparo.db.types import BigIntPK, UTCDateTime

# A recall (deleteMessage) or an edit (new copy and/or buttons) of one shot's delivered messages.
# Claimed and leased like a shot; at most one running job per bot, and never while the bot has a
# running shot (the claims exclude each other), so the bot's rate is never exceeded.
shot_jobs = Table(
    "shot_jobs",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("shot_id", BigInteger, ForeignKey("shots_queue.id", ondelete="CASCADE"), nullable=False),
    Column("bot_slug", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("copy", Text),  # an edit's new copy (template syntax), or NULL: the copy stays
    Column("buttons", JSON(none_as_null=True)),  # an edit's new buttons ([] removes them)
    Column("change_buttons", Boolean, nullable=False, server_default=false()),
    Column("total", Integer),  # recipients in its snapshot, once taken
    Column("last_error", Text),
    Column("locked_by", Text),
    Column("lease_expires_at", UTCDateTime()),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    *timestamps(),
    CheckConstraint("kind IN ('recall', 'edit')", name="kind_valid"),
    CheckConstraint(
        "status IN ('pending', 'running', 'paused', 'done', 'cancelled', 'error')",
        name="status_valid",
    ),
    Index("idx_shot_jobs_due", "status", "created_at"),
    Index("idx_shot_jobs_shot", "shot_id", "id"),
    Index(
        "uq_shot_jobs_running_bot",
        "bot_slug",
        unique=True,
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
)

# One recipient's delivered message(s) in a job: status as a delivery's (pending, sending, then
# done, skipped, error or unknown) and what happened (`outcome`: deleted, edited, unchanged,
# gone, too_old, deactivated, cancelled, error, unknown).
shot_job_items = Table(
    "shot_job_items",
    metadata,
    Column("job_id", BigInteger, ForeignKey("shot_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("telegram_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("audio_message_id", BigInteger),  # an audio shot's first message
    Column("variant", Text),
    Column("sent_at", UTCDateTime(), nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("outcome", Text),
    Column("error", Text),
    Column("updated_at", UTCDateTime()),
    PrimaryKeyConstraint("job_id", "telegram_id"),
    CheckConstraint(
        "status IN ('pending', 'sending', 'done', 'skipped', 'error', 'unknown')",
        name="status_valid",
    ),
    Index("idx_shot_job_items_turn", "job_id", "status", "seq"),
)
