"""Every table, registered on one metadata: what migrations are checked against."""

from __future__ import annotations

from disparo.db import (
    tables,
    tables_campaign,
    tables_contacts,
    tables_imports,
    tables_jobs,
    tables_webhooks,
)
from disparo.db.table_base import metadata

__all__ = [
    "metadata",
    "tables",
    "tables_campaign",
    "tables_contacts",
    "tables_imports",
    "tables_jobs",
    "tables_webhooks",
]
