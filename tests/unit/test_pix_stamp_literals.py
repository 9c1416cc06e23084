"""The PIX sources frozen in migration 0002's triggers equal the domain's definition."""

from __future__ import annotations

import importlib

from disparo.domain.statuses import PIX_EVENTS, PIX_PAYMENT_STATUSES


def test_migration_literals_match_the_domain() -> None:
    """The triggers of 0002 keep the `has_pix` stamp with their own copy of the sources: changing
    PIX_EVENTS or PIX_PAYMENT_STATUSES needs a new migration that replaces the triggers and
    restamps the contacts (then point this test at it)."""
    migration = importlib.import_module("disparo.db.migrations.versions.0002_contact_has_pix")
    assert set(migration.PIX_EVENTS) == set(PIX_EVENTS)
    assert set(migration.PIX_PAYMENT_STATUSES) == set(PIX_PAYMENT_STATUSES)
