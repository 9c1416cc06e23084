"""Named queries on `bots`: registration, settings, webhook secret, polling offset.

The token and the webhook secret are stored sealed by the cipher (see `secrets`); each record
holds them opened.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from disparo.db.secrets import SecretKeyError, TokenCipher
from disparo.db.tables import bots, shots_queue, shots_sent
from disparo.domain.statuses import ShotStatus

# Settings an operator may change after registration (the token is handled on its own).
EDITABLE_BOT_FIELDS = frozenset(
    {
        "name",
        "rate_per_s",
        "paid_broadcast",
        "timezone",
        "polling",
        "max_shots_per_contact",
        "cap_window_hours",
        "quiet_hours_start",
        "quiet_hours_end",
    }
)


@dataclass(frozen=True, slots=True)
class BotRecord:
    """A registered bot, its token and webhook secret opened (keep both away from responses and
    logs)."""

    slug: str
    token: str
    name: str | None
    telegram_bot_id: int | None
    telegram_username: str | None
    rate_per_s: int
    paid_broadcast: bool
    timezone: str
    webhook_secret: str
    polling: bool
    updates_offset: int | None
    created_at: datetime
    updated_at: datetime
    max_shots_per_contact: int | None = None  # the frequency cap: at most this many shots
    cap_window_hours: int | None = None  # ... delivered within this many hours
    quiet_hours_start: str | None = None  # "HH:MM" in `timezone`: nothing is sent from then
    quiet_hours_end: str | None = None  # ... until then


@dataclass(frozen=True, slots=True)
class BotRules:
    """A bot's send-time rules and time zone (no secrets: cheap to read for any response)."""

    timezone: str
    max_shots_per_contact: int | None
    cap_window_hours: int | None
    quiet_hours_start: str | None
    quiet_hours_end: str | None


async def bot_rules(conn: AsyncConnection, slug: str) -> BotRules | None:
    """The send-time rules of bot `slug`, or None when there is no such bot."""
    columns = [bots.c[name] for name in BotRules.__slots__]
    row = (await conn.execute(select(*columns).where(bots.c.slug == slug))).mappings().first()
    return None if row is None else BotRules(**row)


def _record(row: RowMapping, cipher: TokenCipher) -> BotRecord:
    values = dict(row)
    values["token"] = cipher.open(values["token"])
    values["webhook_secret"] = cipher.open(values["webhook_secret"])
    return BotRecord(**values)


def new_webhook_secret() -> str:
    """A secret for X-Telegram-Bot-Api-Secret-Token (Telegram accepts A-Z a-z 0-9 _ -)."""
    return secrets.token_urlsafe(32)


async def insert_bot(
    conn: AsyncConnection,
    cipher: TokenCipher,
    *,
    slug: str,
    token: str,
    now: datetime,
    **settings: Any,
) -> BotRecord:
    """Register a bot; the caller checked that the slug is free."""
    row = (
        (
            await conn.execute(
                insert(bots)
                .values(
                    slug=slug,
                    token=cipher.seal(token),
                    webhook_secret=cipher.seal(new_webhook_secret()),
                    created_at=now,
                    updated_at=now,
                    **settings,
                )
                .returning(*bots.c)
            )
        )
        .mappings()
        .one()
    )
    return _record(row, cipher)


async def get_bot(conn: AsyncConnection, cipher: TokenCipher, slug: str) -> BotRecord | None:
    """The bot named `slug`, or None."""
    row = (await conn.execute(select(bots).where(bots.c.slug == slug))).mappings().first()
    return _record(row, cipher) if row is not None else None


SealedBot = RowMapping  # a bots row whose token and webhook secret are still sealed


async def sealed_bots(conn: AsyncConnection, slugs: Collection[str]) -> dict[str, SealedBot]:
    """The rows of these bots, secrets still sealed (open each with `open_bot`), by slug."""
    if not slugs:
        return {}
    rows = (await conn.execute(select(bots).where(bots.c.slug.in_(list(slugs))))).mappings()
    return {row["slug"]: row for row in rows}


def open_bot(row: SealedBot, cipher: TokenCipher) -> BotRecord:
    """The bot of a `sealed_bots` row, its secrets opened (SecretKeyError if the key cannot)."""
    return _record(row, cipher)


async def bot_exists(conn: AsyncConnection, slug: str) -> bool:
    """True when a bot named `slug` is registered."""
    return bool(await conn.scalar(select(exists().where(bots.c.slug == slug))))


async def list_bots(conn: AsyncConnection, cipher: TokenCipher) -> list[BotRecord]:
    """Every registered bot, by slug."""
    rows = (await conn.execute(select(bots).order_by(bots.c.slug))).mappings().all()
    return [_record(row, cipher) for row in rows]


async def slug_of_telegram_bot(
    conn: AsyncConnection, telegram_bot_id: int, *, other_than: str | None = None
) -> str | None:
    """The slug already registered for this Telegram bot id, if any (one slug per bot)."""
    query = select(bots.c.slug).where(bots.c.telegram_bot_id == telegram_bot_id)
    if other_than is not None:
        query = query.where(bots.c.slug != other_than)
    return await conn.scalar(query.limit(1))


async def update_bot(
    conn: AsyncConnection,
    cipher: TokenCipher,
    slug: str,
    *,
    now: datetime,
    token: str | None = None,
    **changes: Any,
) -> BotRecord | None:
    """Change a bot's settings (and token); None when there is no such bot."""
    unknown = set(changes) - EDITABLE_BOT_FIELDS - {"telegram_bot_id", "telegram_username"}
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    values: dict[str, Any] = {**changes, "updated_at": now}
    if token is not None:
        values["token"] = cipher.seal(token)
    row = (
        (
            await conn.execute(
                update(bots).where(bots.c.slug == slug).values(**values).returning(*bots.c)
            )
        )
        .mappings()
        .first()
    )
    return _record(row, cipher) if row is not None else None


async def delete_bot(conn: AsyncConnection, slug: str) -> bool:
    """Remove a bot with its contacts, events, payments and shots; False if there was none."""
    # Deliveries first: on PostgreSQL no foreign key cascades from the shots to them (0015).
    await conn.execute(delete(shots_sent).where(shots_sent.c.bot_slug == slug))
    result = await conn.execute(delete(bots).where(bots.c.slug == slug))
    return result.rowcount > 0


async def has_running_shot(conn: AsyncConnection, slug: str) -> bool:
    """True while one of the bot's shots is being sent."""
    query = select(
        exists().where(
            shots_queue.c.bot_slug == slug, shots_queue.c.status == ShotStatus.RUNNING.value
        )
    )
    return bool(await conn.scalar(query))


async def webhook_secret_of(conn: AsyncConnection, cipher: TokenCipher, slug: str) -> str | None:
    """The secret Telegram must send with this bot's webhook calls, or None (no such bot)."""
    stored = await conn.scalar(select(bots.c.webhook_secret).where(bots.c.slug == slug))
    return cipher.open(stored) if stored is not None else None


async def replace_webhook_secret(
    conn: AsyncConnection, cipher: TokenCipher, slug: str, secret: str, *, now: datetime
) -> bool:
    """Store a new webhook secret for the bot (sealed); False when there is no such bot."""
    result = await conn.execute(
        update(bots)
        .where(bots.c.slug == slug)
        .values(webhook_secret=cipher.seal(secret), updated_at=now)
    )
    return result.rowcount > 0


async def polling_bot_slugs(conn: AsyncConnection, *, every_bot: bool = False) -> list[str]:
    """The bots whose updates are fetched with getUpdates (all of them with `every_bot`)."""
    query = select(bots.c.slug).order_by(bots.c.slug)
    if not every_bot:
        query = query.where(bots.c.polling.is_(True))
    return list((await conn.scalars(query)).all())


async def set_updates_offset(conn: AsyncConnection, slug: str, offset: int) -> None:
    """Remember the next getUpdates offset of a polling bot."""
    await conn.execute(update(bots).where(bots.c.slug == slug).values(updates_offset=offset))


async def unopenable_secret_slugs(conn: AsyncConnection, cipher: TokenCipher) -> list[str]:
    """The bots whose stored token or webhook secret `cipher` cannot open (none when the key
    is right)."""
    query = select(bots.c.slug, bots.c.token, bots.c.webhook_secret).order_by(bots.c.slug)
    rows = (await conn.execute(query)).all()
    return [slug for slug, *stored in rows if not all(cipher.opens(value) for value in stored)]


@dataclass(frozen=True, slots=True)
class Resealed:
    """What `reseal_secrets` did: bots resealed, and how many values were stored in plain."""

    bots: int
    plain_tokens: int
    plain_webhook_secrets: int


async def reseal_secrets(conn: AsyncConnection, cipher: TokenCipher) -> Resealed:
    """Seal every stored token and webhook secret again with the cipher's sealing key, in the
    caller's transaction.

    Every value is opened before any is written: when one cannot be, SecretKeyError names the
    bots and nothing is changed. The rows stay locked until the caller commits.
    """
    if not cipher.encrypts:
        raise SecretKeyError("DISPARO_SECRET_KEY is not set; there is no key to seal with")
    query = (
        select(bots.c.slug, bots.c.token, bots.c.webhook_secret)
        .order_by(bots.c.slug)
        .with_for_update()
    )
    rows = (await conn.execute(query)).all()
    unopenable = [
        slug for slug, *stored in rows if not all(cipher.opens(value) for value in stored)
    ]
    if unopenable:
        raise SecretKeyError(
            f"the tokens or webhook secrets of {len(unopenable)} bot(s) "
            f"({', '.join(unopenable)}) cannot be opened with DISPARO_SECRET_KEY or "
            "DISPARO_OLD_SECRET_KEY; set DISPARO_OLD_SECRET_KEY to the key they are sealed "
            "with now. Nothing was changed"
        )
    if rows:
        await conn.execute(
            update(bots)
            .where(bots.c.slug == bindparam("b_slug"))
            .values(token=bindparam("b_token"), webhook_secret=bindparam("b_secret")),
            [
                {
                    "b_slug": slug,
                    "b_token": cipher.seal(cipher.open(token)),
                    "b_secret": cipher.seal(cipher.open(secret)),
                }
                for slug, token, secret in rows
            ],
        )
    return Resealed(
        bots=len(rows),
        plain_tokens=sum(1 for _, token, _ in rows if not cipher.sealed(token)),
        plain_webhook_secrets=sum(1 for _, _, secret in rows if not cipher.sealed(secret)),
    )
