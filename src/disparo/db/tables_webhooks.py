"""Outgoing webhooks (migration 0009): the endpoints operators register, and the outbox of
events for them, written in the transaction of the change each reports and delivered by its
own loop (`disparo.outbox`)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from disparo.db.table_base import metadata
from disparo.db.types import BigIntPK, UTCDateTime

# A receiver: its URL, the event types it wants (comma-separated, e.g. "shot.finished,conversion"),
# one bot or every bot (NULL), and the key that signs its deliveries (sealed like bot tokens).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("bot_slug", Text, ForeignKey("bots.slug", ondelete="CASCADE", onupdate="CASCADE")),
    Column("secret", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, server_default=func.now()),
)

# The outbox: one row per event and endpoint, from its writing to its delivery (or failure).
# `event_id` is the idempotency id the receiver sees on every attempt; `locked_until` is the
# lease of the process delivering it now; `last_*` describe the latest attempt's answer.
_PENDING = "status = 'pending'"
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column(
        "endpoint_id",
        BigInteger,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("data", JSON(none_as_null=True), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime()),
    Column("locked_until", UTCDateTime()),
    Column("last_attempt_at", UTCDateTime()),
    Column("last_status", Integer),
    Column("last_response", Text),
    Column("last_error", Text),
    UniqueConstraint("event_id"),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_valid"),
    # What the delivery loop claims: pending rows by due time.
    Index(
        "idx_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text(_PENDING),
        sqlite_where=text(_PENDING),
    ),
    # An endpoint's deliveries, newest first (the deliveries list).
    Index("idx_webhook_deliveries_endpoint", "endpoint_id", "id"),
)
