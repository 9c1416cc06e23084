"""What recipients do after a delivery: clicks on tracked links (and the key that signs
them), and replies."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, text

from disparo.db.engine import Connection, Database
from disparo.db.tables_campaign import link_keys
from disparo.db.types import UTCDateTime
from disparo.domain.tracking import Links


async def link_key(db: Database) -> bytes:
    """The key that signs tracked links (migration 0008 makes it; made here if it is gone)."""
    async with db.read() as conn:
        found = (await conn.execute(select(link_keys.c.secret).where(link_keys.c.id == 1))).scalar()
    if found is not None:
        return bytes(found)
    async with db.write() as conn:
        await conn.execute(link_keys.insert().values(id=1, secret=secrets.token_bytes(32)))
    return await link_key(db)


class LinkSource:
    """Where tracked links point, with their key read from the database on first use (a
    process may start while the database is away)."""

    def __init__(self, db: Database, public_url: str | None) -> None:
        self.db, self.public_url = db, public_url
        self._links: Links | None = None

    async def get(self) -> Links | None:
        """The links' settings; None without a public URL (no tracking)."""
        if self.public_url is None:
            return None
        if self._links is None:
            self._links = Links.of(self.public_url, await link_key(self.db))
        return self._links


@dataclass(frozen=True, slots=True)
class Click:
    """One click on a tracked link, as the redirect saw it."""

    shot_id: int
    telegram_id: int
    variant: str | None
    link: int
    clicked_at: datetime


# Only clicks of a delivery that still exists (its shot may have been deleted since); the first
# of a recipient also becomes its `click` response. The triggers of 0008 add both to the rollup.
_INSERT_CLICK = text(
    """
    INSERT INTO shot_clicks (shot_id, telegram_id, variant, link, clicked_at)
    SELECT :shot_id, :telegram_id, :variant, :link, :clicked_at
    WHERE EXISTS (SELECT 1 FROM shots_sent s
                  WHERE s.shot_id = :shot_id AND s.telegram_id = :telegram_id)
    """
).bindparams(bindparam("clicked_at", type_=UTCDateTime()))
_FIRST_CLICK = text(
    """
    INSERT INTO shot_responses (shot_id, kind, telegram_id, responded_at)
    SELECT :shot_id, 'click', :telegram_id, :clicked_at
    WHERE EXISTS (SELECT 1 FROM shots_sent s
                  WHERE s.shot_id = :shot_id AND s.telegram_id = :telegram_id)
    ON CONFLICT (shot_id, kind, telegram_id) DO NOTHING
    """
).bindparams(bindparam("clicked_at", type_=UTCDateTime()))


async def record_clicks(db: Database, clicks: Sequence[Click]) -> None:
    """Write a batch of clicks in one transaction."""
    if not clicks:
        return
    rows = [
        {
            "shot_id": c.shot_id,
            "telegram_id": c.telegram_id,
            "variant": c.variant,
            "link": c.link,
            "clicked_at": c.clicked_at,
        }
        for c in clicks
    ]
    async with db.write() as conn:
        await conn.execute(_INSERT_CLICK, rows)
        await conn.execute(
            _FIRST_CLICK,
            [{k: r[k] for k in ("shot_id", "telegram_id", "clicked_at")} for r in rows],
        )


REPLY_WINDOW = timedelta(hours=24)
# The latest delivery of the bot to this contact in the 24 h before the message (a range of
# idx_shots_sent_contact); its first reply only.
_REPLY = text(
    """
    INSERT INTO shot_responses (shot_id, kind, telegram_id, responded_at)
    SELECT s.shot_id, 'reply', s.telegram_id, :now FROM shots_sent s
    WHERE s.bot_slug = :bot_slug AND s.telegram_id = :telegram_id AND s.sent_at IS NOT NULL
      AND s.sent_at <= :now AND s.sent_at > :since
    ORDER BY s.sent_at DESC LIMIT 1
    ON CONFLICT (shot_id, kind, telegram_id) DO NOTHING
    """
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("since", type_=UTCDateTime()))


async def record_reply(conn: Connection, bot_slug: str, telegram_id: int, *, now: datetime) -> None:
    """A message from the contact: the first reply to the latest shot it got in the last 24 h."""
    params = {
        "bot_slug": bot_slug,
        "telegram_id": telegram_id,
        "now": now,
        "since": now - REPLY_WINDOW,
    }
    await conn.execute(_REPLY, params)
