"""Message templates and personal variables.

- `templates`: saved messages (copy, media, buttons), of one bot or of every bot;
- `telegram_contacts.attributes`: a flat JSON object of custom values (`{attr.plano}`);
- `shots_queue.templated`: the shot's copy and button URLs are in template syntax (variables,
  `{{ }}`); every shot created from now on is, older rows (false) are sent as stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from disparo.db.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("bot_slug", sa.Text()),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("copy", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), server_default=sa.text("'none'"), nullable=False),
        sa.Column("media_url", sa.Text()),
        sa.Column("buttons", sa.JSON()),
        sa.Column("created_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_slug"],
            ["bots.slug"],
            name="fk_templates_bot_slug_bots",
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "media_type IN ('photo', 'video', 'audio', 'none')",
            name="ck_templates_media_type_valid",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
    )
    op.create_index("idx_templates_name", "templates", ["name"])
    # Plain ALTER TABLE on both backends (SQLite 3.35+ drops columns in place): a rebuild of
    # telegram_contacts would trip over the has_pix triggers of migration 0002.
    op.add_column("telegram_contacts", sa.Column("attributes", sa.JSON()))
    op.add_column(
        "shots_queue",
        sa.Column("templated", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("shots_queue", "templated")
    op.drop_column("telegram_contacts", "attributes")
    op.drop_index("idx_templates_name", table_name="templates")
    op.drop_table("templates")
