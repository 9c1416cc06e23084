"""Table definitions (SQLAlchemy Core). The migrations are checked against these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)

from disparo.db.table_base import bot_slug, metadata, one_of, timestamps
from disparo.db.types import BigIntPK, UTCDateTime
from disparo.domain.statuses import (
    ChatState,
    DeliveryStatus,
    MediaType,
    PaymentStatus,
    ShotStatus,
    StopOn,
    Target,
)

_TURN = "sent_at IS NULL AND status IN ('holdout', 'skipped', 'error', 'unknown')"

bots = Table(
    "bots",
    metadata,
    Column("slug", Text, primary_key=True),
    Column("token", Text, nullable=False),
    Column("name", Text),
    Column("telegram_bot_id", BigInteger),
    Column("telegram_username", Text),
    Column("rate_per_s", Integer, nullable=False, server_default=text("25")),
    Column("paid_broadcast", Boolean, nullable=False, server_default=false()),
    Column("timezone", Text, nullable=False, server_default=text("'America/Sao_Paulo'")),
    Column("webhook_secret", Text, nullable=False),
    Column("polling", Boolean, nullable=False, server_default=false()),
    Column("updates_offset", BigInteger),
    # Send-time rules (migration 0004): at most `max_shots_per_contact` shots delivered to one
    # contact within `cap_window_hours` (both or neither); nothing sent between
    # `quiet_hours_start` and `quiet_hours_end` ("HH:MM", the bot's time zone; both or neither).
    Column("max_shots_per_contact", Integer),
    Column("cap_window_hours", Integer),
    Column("quiet_hours_start", Text),
    Column("quiet_hours_end", Text),
    *timestamps(),
    CheckConstraint("rate_per_s >= 1 AND rate_per_s <= 1000", name="rate_per_s_range"),
    CheckConstraint(
        "(max_shots_per_contact IS NULL) = (cap_window_hours IS NULL)"
        " AND (max_shots_per_contact IS NULL OR max_shots_per_contact >= 1)"
        " AND (cap_window_hours IS NULL OR cap_window_hours >= 1)",
        name="frequency_cap_valid",
    ),
    CheckConstraint(
        "(quiet_hours_start IS NULL) = (quiet_hours_end IS NULL)", name="quiet_hours_valid"
    ),
)

segments = Table(
    "segments",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    bot_slug(),
    Column("name", Text, nullable=False),
    Column("filter", JSON, nullable=False),  # the filter tree, as validated by domain/filters.py
    *timestamps(),
    UniqueConstraint("bot_slug", "name"),
)

shots_queue = Table(
    "shots_queue",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    bot_slug(),
    Column("target", Text, nullable=False),
    Column("recency_days", Integer),
    Column("copy", Text, nullable=False),
    Column("media_url", Text),
    Column("media_type", Text, nullable=False, server_default=text("'none'")),
    Column("buttons", JSON(none_as_null=True)),
    Column("scheduled_at", UTCDateTime(), nullable=False, server_default=func.now()),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempt_count", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("locked_by", Text),
    Column("lease_expires_at", UTCDateTime()),
    # Rows of the audience written so far; complete once the last chunk is (0013).
    Column("audience_total", Integer),
    Column("audience_complete", Boolean, nullable=False, server_default=true()),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    *timestamps(),
    # Audience narrowing and send-time rules (migration 0004): a filter tree or a saved segment
    # (not both); when unsent deliveries expire; who is taken out once converted.
    Column("filter", JSON(none_as_null=True)),
    # No cascade: a segment that a shot still uses cannot be deleted (db/segments.py unlinks the
    # ended shots first), so a pending shot can never silently lose its narrowing.
    Column("segment_id", BigInteger, ForeignKey("segments.id")),
    Column("expires_at", UTCDateTime()),
    Column("stop_on", Text),
    Column("ignore_frequency_cap", Boolean, nullable=False, server_default=false()),
    # Copy and button URLs are in template syntax (migration 0005): variables and {{ }}. Rows
    # older than templates are false and are sent exactly as stored.
    Column("templated", Boolean, nullable=False, server_default=false()),
    # A/B (0007): the holdout's share; winner mode's settings and, once taken, its decision.
    Column("holdout_percent", Integer, nullable=False, server_default=text("0")),
    Column("winner", JSON(none_as_null=True)),
    Column("winner_decision", JSON(none_as_null=True)),
    # Click tracking (0008): URL buttons go through /r/{code}; links in the copy only if asked.
    Column("track_clicks", Boolean, nullable=False, server_default=true()),
    Column("track_copy_links", Boolean, nullable=False, server_default=false()),
    one_of("target", Target),
    one_of("media_type", MediaType),
    one_of("status", ShotStatus),
    CheckConstraint("recency_days IS NULL OR recency_days >= 1", name="recency_days_positive"),
    one_of("stop_on", StopOn),
    CheckConstraint("filter IS NULL OR segment_id IS NULL", name="filter_or_segment"),
    CheckConstraint("holdout_percent >= 0 AND holdout_percent <= 50", name="holdout_range"),
    Index("idx_shots_queue_scheduled", "status", "scheduled_at"),
    Index("idx_shots_queue_slug", "bot_slug", "status", "scheduled_at"),
    # One sender per bot: at most one running shot per bot, enforced by the database.
    Index(
        "uq_shots_queue_running_bot",
        "bot_slug",
        unique=True,
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
)

shots_sent = Table(
    "shots_sent",
    metadata,
    Column("shot_id", BigInteger, nullable=False),
    # SQLite only (migration 0015 drops it on PostgreSQL, where its check was a third of the
    # snapshot's cost: one lookup of the shot a row); deleting a bot deletes its deliveries
    # itself (db/bots.py), and shots are never deleted on their own.
    ForeignKeyConstraint(["shot_id"], ["shots_queue.id"], ondelete="CASCADE").ddl_if(
        dialect="sqlite"
    ),
    Column("bot_slug", Text, nullable=False),
    Column("telegram_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("reason", Text),
    Column("error", Text),
    Column("message_id", BigInteger),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("sent_at", UTCDateTime()),
    Column("updated_at", UTCDateTime()),
    # The variant's name, `holdout`, or NULL (no variants, or winner mode's undecided remainder);
    # decided once, at the snapshot (0007).
    Column("variant", Text),
    Column("audio_message_id", BigInteger),  # an audio shot's first message (0010): a recall's
    PrimaryKeyConstraint("shot_id", "telegram_id"),
    one_of("status", DeliveryStatus),
    # The spec's index, with `seq` appended so a batch is reserved in snapshot order, and
    # `variant` so a report counts each group's deliveries from the index alone (0007).
    Index("idx_shots_sent_shot_id", "shot_id", "status", "seq", "variant"),
    # Sent deliveries only: a snapshot writes every row with sent_at NULL (migration 0003).
    Index(
        "idx_shots_sent_slug_time",
        "bot_slug",
        "sent_at",
        postgresql_where=text("sent_at IS NOT NULL"),
        sqlite_where=text("sent_at IS NOT NULL"),
    ),
    # One contact's sent deliveries by time: frequency cap, `received_shot` filter (0004).
    Index(
        "idx_shots_sent_contact",
        "bot_slug",
        "telegram_id",
        "sent_at",
        postgresql_where=text("sent_at IS NOT NULL"),
        sqlite_where=text("sent_at IS NOT NULL"),
    ),
    # Recipients reached without a delivery, by their turn: conversions' lookup (0007).
    Index(
        "idx_shots_sent_turn",
        "bot_slug",
        "telegram_id",
        "updated_at",
        postgresql_where=text(_TURN),
        sqlite_where=text(_TURN),
    ),
)

telegram_contacts = Table(
    "telegram_contacts",
    metadata,
    bot_slug(),
    Column("telegram_id", BigInteger, nullable=False),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("username", Text),
    Column("language_code", Text),
    Column("chat_state", Text, nullable=False, server_default=text("'active'")),
    Column("started_at", UTCDateTime()),
    Column("last_interaction_at", UTCDateTime()),
    Column("blocked_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False, server_default=func.now()),
    # Whether the contact is in the `pix_created` audience (a PIX funnel event or a created/paid
    # payment); kept by database triggers on every table involved (migration 0002), never
    # written by the code.
    Column("has_pix", Boolean, nullable=False, server_default=false()),
    Column("total_paid_cents", BigInteger, nullable=False, server_default=text("0")),  # 0014
    # Custom values for `{attr.<key>}` variables: a flat JSON object (migration 0005).
    Column("attributes", JSON(none_as_null=True)),
    PrimaryKeyConstraint("bot_slug", "telegram_id"),
    one_of("chat_state", ChatState),
    Index(
        "idx_telegram_contacts_audience",
        "bot_slug",
        "chat_state",
        "last_interaction_at",
        "telegram_id",
    ),
    # The `pix_created` audience alone. Each backend's predicate is spelled as SQLAlchemy renders
    # `WHERE has_pix` there: SQLite uses a partial index only when the query repeats its terms,
    # and reads only the index (20 ms, not 36, at 1M contacts) when it also holds has_pix.
    Index(
        "idx_telegram_contacts_pix",
        "bot_slug",
        "chat_state",
        "last_interaction_at",
        "telegram_id",
        "has_pix",
        postgresql_where=text("has_pix"),
        sqlite_where=text("has_pix = 1"),
    ),
    Index("idx_telegram_contacts_changes", "bot_slug", "blocked_at"),
)

templates = Table(
    "templates",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    # One bot's template, or every bot's when NULL.
    Column("bot_slug", Text, ForeignKey("bots.slug", ondelete="CASCADE", onupdate="CASCADE")),
    Column("name", Text, nullable=False),
    Column("copy", Text, nullable=False),
    Column("media_type", Text, nullable=False, server_default=text("'none'")),
    Column("media_url", Text),
    Column("buttons", JSON(none_as_null=True)),
    *timestamps(),
    one_of("media_type", MediaType),
    Index("idx_templates_name", "name"),
)

contact_tags = Table(
    "contact_tags",
    metadata,
    Column("bot_slug", Text, nullable=False),
    Column("telegram_id", BigInteger, nullable=False),
    Column("tag", Text, nullable=False),
    PrimaryKeyConstraint("bot_slug", "tag", "telegram_id"),
    ForeignKeyConstraint(
        ["bot_slug", "telegram_id"],
        ["telegram_contacts.bot_slug", "telegram_contacts.telegram_id"],
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
    Index("idx_contact_tags_contact", "bot_slug", "telegram_id"),
)

funnel_events = Table(
    "funnel_events",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    bot_slug(),
    Column("telegram_id", BigInteger, nullable=False),
    Column("event", Text, nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("payload", JSON),
    UniqueConstraint("bot_slug", "telegram_id", "event", "occurred_at"),
    # An event (within N days) as a range; one contact's events use the unique key (0006).
    Index("idx_funnel_events_event_time", "bot_slug", "event", "occurred_at", "telegram_id"),
)

payment_transactions = Table(
    "payment_transactions",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    bot_slug(),
    Column("telegram_id", BigInteger, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", Text, nullable=False, server_default=text("'BRL'")),
    Column("created_at", UTCDateTime(), nullable=False, server_default=func.now()),
    Column("paid_at", UTCDateTime()),
    UniqueConstraint("bot_slug", "external_id"),
    one_of("status", PaymentStatus),
    CheckConstraint("amount_cents >= 0", name="amount_cents_non_negative"),
    # Audience filters read paid amounts, dates and totals from these alone (migration 0006).
    Index(
        "idx_payment_transactions_status",
        "bot_slug",
        "status",
        "telegram_id",
        "amount_cents",
        "paid_at",
        "created_at",
    ),
    Index("idx_payment_transactions_created", "bot_slug", "created_at", "status", "telegram_id"),
)

processed_updates = Table(
    "processed_updates",
    metadata,
    bot_slug(),
    Column("update_id", BigInteger, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("bot_slug", "update_id"),
    Index("idx_processed_updates_received", "received_at"),
)
