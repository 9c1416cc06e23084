"""What recipients do after a delivery: clicks on tracked links (and the key that signs
them), and replies."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import TextClause, bindparam, select, text

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


# A batch travels as one JSON document and lands in two set-based statements (a few hundred
# clicks cost the redirect's event loop well under a millisecond of encoding). Only clicks of a
# delivery that still exists count (its shot may have been deleted since); a recipient's first
# click also becomes its `click` response. The triggers of 0008 add both to the rollup.
_PG_ROWS = """json_to_recordset(CAST(:clicks AS json)) AS v(
    shot_id bigint, telegram_id bigint, variant text, link integer, clicked_at timestamptz)"""
_SQLITE_ROWS = """(SELECT json_extract(value, '$.shot_id') AS shot_id,
    json_extract(value, '$.telegram_id') AS telegram_id,
    json_extract(value, '$.variant') AS variant, json_extract(value, '$.link') AS link,
    json_extract(value, '$.clicked_at') AS clicked_at FROM json_each(:clicks)) AS v"""
_KNOWN = """EXISTS (SELECT 1 FROM shots_sent s
    WHERE s.shot_id = v.shot_id AND s.telegram_id = v.telegram_id)"""


def _statements(rows: str) -> tuple[TextClause, TextClause]:
    clicks = text(
        "INSERT INTO shot_clicks (shot_id, telegram_id, variant, link, clicked_at)"  # noqa: S608 - constants only
        f" SELECT v.shot_id, v.telegram_id, v.variant, v.link, v.clicked_at FROM {rows}"
        f" WHERE {_KNOWN}"
    )
    first = text(
        "INSERT INTO shot_responses (shot_id, kind, telegram_id, responded_at)"  # noqa: S608 - constants only
        f" SELECT v.shot_id, 'click', v.telegram_id, min(v.clicked_at) FROM {rows}"
        f" WHERE {_KNOWN} GROUP BY v.shot_id, v.telegram_id"
        " ON CONFLICT (shot_id, kind, telegram_id) DO NOTHING"
    )
    return clicks, first


_PG = _statements(_PG_ROWS)
_SQLITE = _statements(_SQLITE_ROWS)


def _when(at: datetime, sqlite: bool) -> str:
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at.isoformat()


async def record_clicks(db: Database, clicks: Sequence[Click]) -> None:
    """Write a batch of clicks in one transaction."""
    if not clicks:
        return
    sqlite = db.is_sqlite
    document = orjson.dumps(
        [
            {"shot_id": c.shot_id, "telegram_id": c.telegram_id, "variant": c.variant,
             "link": c.link, "clicked_at": _when(c.clicked_at, sqlite)}
            for c in clicks
        ]
    ).decode()  # fmt: skip
    async with db.write() as conn:
        for statement in _SQLITE if sqlite else _PG:
            await conn.execute(statement, {"clicks": document})


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
