"""Indexes of the contacts table of the admin page (migration 0012): each sort it offers is a
walk down one index of the bot's contacts, so a page reads its rows and no more."""

from __future__ import annotations

from sqlalchemy import Index

from disparo.db.tables import telegram_contacts

c = telegram_contacts.c

contacts_by_interaction = Index(
    "idx_telegram_contacts_interaction", c.bot_slug, c.last_interaction_at, c.telegram_id
)
contacts_by_start = Index("idx_telegram_contacts_started", c.bot_slug, c.started_at, c.telegram_id)
