"""Import jobs (migration 0011): a bulk import run in the background of the API, its progress
after each chunk, and its rejected lines."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)

from disparo.db.table_base import bot_slug, metadata, timestamps
from disparo.db.types import BigIntPK, UTCDateTime

# One import of a file: queued, running (its `heartbeat_at` renewed by the process running it),
# then done or failed with its `error`. The counts are written after each chunk; inserted and
# updated once the import is stored (it is stored whole or not at all).
import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    bot_slug(),
    Column("kind", Text, nullable=False),
    Column("tags_mode", Text),
    Column("file_format", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    Column("total_bytes", BigInteger, nullable=False),
    Column("read_bytes", BigInteger, nullable=False, server_default=text("0")),
    Column("processed", BigInteger, nullable=False, server_default=text("0")),
    Column("valid", BigInteger, nullable=False, server_default=text("0")),
    Column("rejected", BigInteger, nullable=False, server_default=text("0")),
    Column("inserted", BigInteger),
    Column("updated", BigInteger),
    Column("error", Text),
    Column("heartbeat_at", UTCDateTime()),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    *timestamps(),
    CheckConstraint("kind IN ('contacts', 'events', 'transactions')", name="kind_valid"),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_valid"),
    Index("idx_import_jobs_bot", "bot_slug", "id"),
    Index("idx_import_jobs_status", "status"),
)

# A rejected line of an import job (the first MAX_REJECTIONS_KEPT of them): its number, the
# field and reason, and the start of the line as it was sent.
import_rejections = Table(
    "import_rejections",
    metadata,
    Column("job_id", BigInteger, ForeignKey("import_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("line", Integer, nullable=False),
    Column("field", Text),
    Column("reason", Text, nullable=False),
    Column("raw", Text),
    PrimaryKeyConstraint("job_id", "line"),
)
