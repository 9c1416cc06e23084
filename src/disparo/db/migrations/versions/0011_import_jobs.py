"""Import jobs: a bulk import run in the background of the API, with its progress and rejections.

- `import_jobs`: one import of a file (contacts, funnel events or payment transactions), its
  status (queued, running, done, failed), counts written after each chunk, and a heartbeat;
- `import_rejections`: its rejected lines (number, field, reason, the start of the line).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disparo.db.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bot_slug", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("tags_mode", sa.Text()),
        sa.Column("file_format", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        _count("read_bytes"),
        _count("processed"),
        _count("valid"),
        _count("rejected"),
        sa.Column("inserted", sa.BigInteger()),
        sa.Column("updated", sa.BigInteger()),
        sa.Column("error", sa.Text()),
        sa.Column("heartbeat_at", UTCDateTime()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_slug"], ["bots.slug"], name="fk_import_jobs_bot_slug_bots",
            ondelete="CASCADE", onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_import_jobs"),
        sa.CheckConstraint(
            "kind IN ('contacts', 'events', 'transactions')", name="ck_import_jobs_kind_valid"
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_import_jobs_status_valid"
        ),
    )  # fmt: skip
    op.create_index("idx_import_jobs_bot", "import_jobs", ["bot_slug", "id"])
    op.create_index("idx_import_jobs_status", "import_jobs", ["status"])
    op.create_table(
        "import_rejections",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", sa.Text()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text()),
        sa.ForeignKeyConstraint(
            ["job_id"], ["import_jobs.id"], name="fk_import_rejections_job_id_import_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "line", name="pk_import_rejections"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("import_rejections")
    op.drop_table("import_jobs")
