"""The campaign layer's tables: A/B variants, conversion goals and conversions (0007), and
what the reports read (0008): clicks, first responses, and the hourly rollup."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from disparo.db.table_base import metadata, one_of
from disparo.db.types import BigIntPK, UTCDateTime
from disparo.domain.statuses import MediaType

shot_variants = Table(
    "shot_variants",
    metadata,
    Column("shot_id", BigInteger, ForeignKey("shots_queue.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),  # 0 is A, the fallback
    Column("name", Text, nullable=False),
    Column("copy", Text, nullable=False),
    Column("media_type", Text, nullable=False, server_default=text("'none'")),
    Column("media_url", Text),
    Column("buttons", JSON(none_as_null=True)),
    Column("weight", Integer, nullable=False),
    PrimaryKeyConstraint("shot_id", "position"),
    UniqueConstraint("shot_id", "name"),
    one_of("media_type", MediaType),
    CheckConstraint("weight >= 1 AND weight <= 100", name="weight_range"),
)

# A shot's conversion events (pix_created, paid, a funnel event) and windows; 0 is the primary.
shot_goals = Table(
    "shot_goals",
    metadata,
    Column("shot_id", BigInteger, ForeignKey("shots_queue.id", ondelete="CASCADE"), nullable=False),
    Column("event", Text, nullable=False),
    Column("bot_slug", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("window_hours", Integer, nullable=False),
    PrimaryKeyConstraint("shot_id", "event"),
    CheckConstraint("window_hours >= 1 AND window_hours <= 720", name="window_range"),
    Index("idx_shot_goals_bot_event", "bot_slug", "event"),
)

# A recipient's conversion on an event of a shot, written only by the triggers of migration 0007
# (revenue_cents and payments add the paid transactions in the window; variant: the delivery's).
REPORT_COLUMNS = ("shot_id", "event", "variant", "converted_at", "revenue_cents")
shot_conversions = Table(
    "shot_conversions",
    metadata,
    Column("shot_id", BigInteger, ForeignKey("shots_queue.id", ondelete="CASCADE"), nullable=False),
    Column("event", Text, nullable=False),
    Column("telegram_id", BigInteger, nullable=False),
    Column("variant", Text),
    Column("converted_at", UTCDateTime(), nullable=False),
    Column("revenue_cents", BigInteger, nullable=False, server_default=text("0")),
    Column("payments", Integer, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("shot_id", "event", "telegram_id"),
    # A report's groups and hours from the index alone.
    Index("idx_shot_conversions_report", *REPORT_COLUMNS),
)


def _shot_id() -> Column[int]:
    return Column(
        "shot_id", BigInteger, ForeignKey("shots_queue.id", ondelete="CASCADE"), nullable=False
    )


def _count(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False, server_default=text("0"))


# The key that signs tracked links (one row, made by migration 0008; codes stay valid while it
# is kept).
link_keys = Table(
    "link_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("secret", LargeBinary, nullable=False),
)

# Every click on a tracked link: the redirect writes it (link: the link's number in the message).
shot_clicks = Table(
    "shot_clicks",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    _shot_id(),
    Column("telegram_id", BigInteger, nullable=False),
    Column("variant", Text),
    Column("link", Integer, nullable=False),
    Column("clicked_at", UTCDateTime(), nullable=False),
    Index("idx_shot_clicks_recipient", "shot_id", "telegram_id"),
)

# A recipient's first click on, or first reply to, a shot (kind `click` or `reply`): the
# primary key makes "clicked" and "replied" count once, whoever writes concurrently.
shot_responses = Table(
    "shot_responses",
    metadata,
    _shot_id(),
    Column("kind", Text, nullable=False),
    Column("telegram_id", BigInteger, nullable=False),
    Column("responded_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("shot_id", "kind", "telegram_id"),
    CheckConstraint("kind IN ('click', 'reply')", name="kind_valid"),
)

# Per shot and hour of delivery (UTC): what the reports add up. Written only by the triggers of
# migration 0008, in the transaction of the facts they count (outcomes, clicks, responses,
# conversions), so it never drifts from them. Clicks, replies and conversions count at the hour
# of the delivery they follow.
REPORT_COUNTS = (
    "recipients",
    "delivered",
    "blocked",
    "deactivated",
    "clicks",
    "clicked",
    "replies",
    "pix",
    "paid",
    "revenue_cents",
)
report_hours = Table(
    "report_hours",
    metadata,
    _shot_id(),
    Column("hour", UTCDateTime(), nullable=False),
    Column("bot_slug", Text, nullable=False),
    *(_count(name) for name in REPORT_COUNTS),
    PrimaryKeyConstraint("shot_id", "hour"),
    Index("idx_report_hours_bot", "bot_slug", "hour"),
)
