"""Bot management: register (token checked with getMe), list, edit, delete, metrics card,
webhook registration and webhook secret rotation."""

from __future__ import annotations

import functools
import logging
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Response

from disparo.api.bot_schemas import (
    BotCreate,
    BotList,
    BotMetrics,
    BotOut,
    BotPatch,
    ContactChanges,
    WebhookOut,
    WebhookSecretRotated,
)
from disparo.api.deps import DB, AppSettings, BotSlug, Cipher, Now, Telegram
from disparo.api.errors import (
    BODY_ERRORS,
    ERROR_RESPONSES,
    ApiError,
    conflict,
    described,
    invalid,
    not_found,
)
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.send_rules import RULE_FIELDS, rule_changes, rules_out
from disparo.db import bots as bot_queries
from disparo.db.bots import BotRecord
from disparo.db.contacts import contact_metrics
from disparo.domain.pacing import MAX_PAID_RATE_PER_S, MAX_RATE_PER_S
from disparo.ingest.updates import ALLOWED_UPDATES
from disparo.telegram import (
    BotAPI,
    MalformedTokenError,
    TelegramAPIError,
    TelegramError,
    User,
    mask_token,
    redact_tokens,
)

log = logging.getLogger("disparo.api.bots")

router = APIRouter(
    prefix=f"{ADMIN_PREFIX}/bots", tags=["bots"], responses=ERROR_RESPONSES, dependencies=ADMIN
)

_NOT_FOUND = described(404, "no such bot")
_TELEGRAM = described(502, "the Bot API server could not be reached")


def bot_out(bot: BotRecord) -> BotOut:
    """The response body of a bot: everything but its token, which is masked."""
    return BotOut(
        slug=bot.slug,
        name=bot.name,
        token=mask_token(bot.token),
        telegram_bot_id=bot.telegram_bot_id,
        telegram_username=bot.telegram_username,
        rate_per_s=bot.rate_per_s,
        paid_broadcast=bot.paid_broadcast,
        timezone=bot.timezone,
        polling=bot.polling,
        created_at=bot.created_at,
        updated_at=bot.updated_at,
        **rules_out(bot),
    )


def _check_rate(rate_per_s: int, paid_broadcast: bool) -> None:
    if rate_per_s > MAX_RATE_PER_S and not paid_broadcast:
        raise invalid(
            "rate_per_s",
            f"rate_per_s must be 1–{MAX_RATE_PER_S} (Telegram's limit); up to "
            f"{MAX_PAID_RATE_PER_S} only with paid_broadcast enabled",
        )


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _check_timezone(name: str) -> None:
    """Only a known zone name: `ZoneInfo` on an arbitrary path recurses and reads files."""
    if name not in _zone_names():
        shown = name if len(name) <= 64 else f"{name[:61]}..."
        raise invalid(
            "timezone", f"'{shown}' is not an IANA time zone; use one such as America/Sao_Paulo"
        )


def _shown(value: object) -> str:
    """A value from the Bot API server, fit for a message: short, and never a token."""
    text = redact_tokens(str(value))
    return text if len(text) <= 64 else f"{text[:61]}..."


def _someone_else(me: object, bot_id: int) -> str | None:
    """Why a getMe answer is not the bot `bot_id` (the token's prefix); None when it is."""
    wrong_server = "the token is wrong, or DISPARO_TELEGRAM_API_URL points at another server"
    if not isinstance(me, dict):
        return f"getMe answered {_shown(me)} instead of a User: {wrong_server}"
    who = f"id {_shown(me.get('id'))}"
    if me.get("username"):
        who += f" (@{_shown(me['username'])})"
    if me.get("is_bot") is not True:
        return f"getMe answered for user {who}, not a bot: {wrong_server}"
    if me.get("id") != bot_id:
        return f"getMe answered for bot {who}, not {bot_id}: {wrong_server}"
    return None


async def _get_me(telegram: BotAPI, token: str) -> User:
    """Ask Telegram who the token belongs to; 422 on `token` when Telegram refuses it, or when
    the answer is not the token's own bot (its id is the token's prefix)."""
    try:
        bot = telegram.bot(token)
    except MalformedTokenError:
        raise invalid(
            "token", "the token must look like 123456789:AAE... (as @BotFather gives it)"
        ) from None
    try:
        me = await bot.get_me()
    except TelegramAPIError as exc:
        raise invalid(
            "token",
            f"Telegram refused this token ({exc.error_code} {exc.description}); "
            "copy it again from @BotFather",
        ) from None
    except TelegramError as exc:
        raise ApiError(
            502, "telegram_error", f"could not check the token with Telegram: {exc.message}"
        ) from None
    problem = _someone_else(me, bot.bot_id)
    if problem is not None:
        raise invalid("token", problem)
    return me


async def _bot_or_404(db: DB, cipher: Cipher, slug: str) -> BotRecord:
    async with db.read() as conn:
        bot = await bot_queries.get_bot(conn, cipher, slug)
    if bot is None:
        raise not_found(f"bot '{slug}'")
    return bot


@router.post(
    "",
    status_code=201,
    summary="Register a bot",
    responses=described(409, "the slug or bot exists") | _TELEGRAM | BODY_ERRORS,
)
async def create_bot(
    body: BotCreate, db: DB, cipher: Cipher, telegram: Telegram, now: Now
) -> BotOut:
    """The token is checked with Telegram's getMe and stored (encrypted with a secret key)."""
    _check_rate(body.rate_per_s, body.paid_broadcast)
    _check_timezone(body.timezone)
    rules = rule_changes(body.model_dump(include=set(RULE_FIELDS), exclude_unset=True))
    token = body.token.get_secret_value().strip()
    me = await _get_me(telegram, token)
    async with db.write() as conn:
        if await bot_queries.bot_exists(conn, body.slug):
            raise conflict(f"a bot named '{body.slug}' is already registered", field="slug")
        taken = await bot_queries.slug_of_telegram_bot(conn, me["id"])
        if taken is not None:
            raise conflict(f"this Telegram bot is already registered as '{taken}'", field="token")
        bot = await bot_queries.insert_bot(
            conn,
            cipher,
            slug=body.slug,
            token=token,
            now=now,
            name=body.name if body.name is not None else me.get("first_name"),
            telegram_bot_id=me["id"],
            telegram_username=me.get("username"),
            rate_per_s=body.rate_per_s,
            paid_broadcast=body.paid_broadcast,
            timezone=body.timezone,
            polling=body.polling,
            **rules,
        )
    log.info("bot registered", extra={"bot_slug": bot.slug, "telegram_bot_id": me["id"]})
    return bot_out(bot)


@router.get("", summary="List the registered bots")
async def list_bots(db: DB, cipher: Cipher) -> BotList:
    """Every bot, by slug; tokens masked."""
    async with db.read() as conn:
        bots = await bot_queries.list_bots(conn, cipher)
    return BotList(items=[bot_out(b) for b in bots])


@router.get("/{slug}", summary="One bot", responses=_NOT_FOUND)
async def get_bot(slug: BotSlug, db: DB, cipher: Cipher) -> BotOut:
    """The bot's settings; its token masked."""
    return bot_out(await _bot_or_404(db, cipher, slug))


@router.patch(
    "/{slug}",
    summary="Change a bot's settings",
    responses=_NOT_FOUND | _TELEGRAM | BODY_ERRORS,
)
async def edit_bot(
    slug: BotSlug, body: BotPatch, db: DB, cipher: Cipher, telegram: Telegram, now: Now
) -> BotOut:
    """Rate, paid broadcast, time zone, polling, name; a new token must be of the same bot."""
    bot = await _bot_or_404(db, cipher, slug)
    given = body.model_dump(exclude_unset=True)
    for name in ("rate_per_s", "paid_broadcast", "timezone", "polling"):
        if name in given and given[name] is None:
            raise invalid(name, f"{name} cannot be null; leave it out to keep it")
    rate = given.get("rate_per_s", bot.rate_per_s)
    _check_rate(rate, given.get("paid_broadcast", bot.paid_broadcast))
    if "timezone" in given:
        _check_timezone(given["timezone"])
    changes: dict[str, Any] = {
        k: v for k, v in given.items() if k in bot_queries.EDITABLE_BOT_FIELDS
    }
    changes.update(rule_changes(given, bot))
    token = None
    if body.token is not None:
        token = body.token.get_secret_value().strip()
        me = await _get_me(telegram, token)
        if bot.telegram_bot_id is not None and me["id"] != bot.telegram_bot_id:
            raise invalid(
                "token",
                f"this token belongs to another Telegram bot (id {me['id']}); "
                "register that bot under its own slug",
            )
        changes.update(telegram_bot_id=me["id"], telegram_username=me.get("username"))
    async with db.write() as conn:
        updated = await bot_queries.update_bot(conn, cipher, slug, now=now, token=token, **changes)
    if updated is None:
        raise not_found(f"bot '{slug}'")
    log.info("bot changed", extra={"bot_slug": slug, "fields": sorted(given)})
    return bot_out(updated)


@router.delete(
    "/{slug}",
    status_code=204,
    summary="Delete a bot and everything of it",
    responses=_NOT_FOUND | described(409, "a shot is running"),
)
async def delete_bot(slug: BotSlug, db: DB) -> Response:
    """Removes the bot with its contacts, events, payments, shots and deliveries."""
    async with db.write() as conn:
        if await bot_queries.has_running_shot(conn, slug):
            raise conflict(
                f"bot '{slug}' has a running shot; pause or cancel it first "
                "(POST /admin/api/shots/{id}/cancel)"
            )
        if not await bot_queries.delete_bot(conn, slug):
            raise not_found(f"bot '{slug}'")
    log.info("bot deleted", extra={"bot_slug": slug})
    return Response(status_code=204)


@router.get("/{slug}/metrics", summary="The bot's metrics card", responses=_NOT_FOUND)
async def bot_metrics(slug: BotSlug, db: DB, now: Now) -> BotMetrics:
    """Contacts by state, and their change over the last 24 hours."""
    async with db.read() as conn:
        if not await bot_queries.bot_exists(conn, slug):
            raise not_found(f"bot '{slug}'")
        m = await contact_metrics(conn, slug, now=now)
    return BotMetrics(
        bot_slug=slug,
        total=m.total,
        active=m.active,
        blocked=m.blocked,
        deactivated=m.deactivated,
        change_24h=ContactChanges(
            started=m.started_24h,
            blocked=m.blocked_24h,
            deactivated=m.deactivated_24h,
            active=m.active_change_24h,
        ),
    )


def _webhook_url(public_url: str, slug: str) -> str:
    return f"{public_url}/telegram/{slug}/webhook"


async def _set_webhook(telegram: BotAPI, token: str, url: str, secret: str) -> None:
    """setWebhook with the bot's secret; 422 when Telegram refuses, 502 when unreachable."""
    try:
        await telegram.bot(token).set_webhook(
            url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
        )
    except TelegramAPIError as exc:
        raise ApiError(
            422,
            "telegram_error",
            f"Telegram refused the webhook: {exc.error_code} {exc.description}",
        ) from None
    except TelegramError as exc:
        raise ApiError(502, "telegram_error", exc.message) from None


@router.post(
    "/{slug}/webhook",
    summary="Register the bot's webhook with Telegram",
    responses=_NOT_FOUND | _TELEGRAM | described(409, "the bot is set to polling"),
)
async def register_webhook(
    slug: BotSlug, db: DB, cipher: Cipher, telegram: Telegram, settings: AppSettings
) -> WebhookOut:
    """setWebhook to DISPARO_PUBLIC_URL/telegram/{slug}/webhook, with the bot's secret."""
    if not settings.public_url:
        raise invalid(
            "DISPARO_PUBLIC_URL",
            "DISPARO_PUBLIC_URL is not set, so Telegram cannot reach this server; set it to "
            "the public https URL of Disparo, or use polling (PATCH the bot with polling=true)",
        )
    bot = await _bot_or_404(db, cipher, slug)
    if bot.polling:
        raise conflict(
            f"bot '{slug}' is set to polling; PATCH it with polling=false first", field="polling"
        )
    url = _webhook_url(settings.public_url, slug)
    await _set_webhook(telegram, bot.token, url, bot.webhook_secret)
    log.info("webhook registered", extra={"bot_slug": slug})
    return WebhookOut(bot_slug=slug, url=url)


@router.post(
    "/{slug}/webhook-secret:rotate",
    summary="Replace the bot's webhook secret",
    responses=_NOT_FOUND
    | _TELEGRAM
    | described(422, "Telegram refused the webhook with the new secret"),
)
async def rotate_webhook_secret(
    slug: BotSlug, db: DB, cipher: Cipher, telegram: Telegram, settings: AppSettings, now: Now
) -> WebhookSecretRotated:
    """A new random secret for X-Telegram-Bot-Api-Secret-Token, stored sealed; the old one is
    refused from then on. A bot in webhook mode (not polling, DISPARO_PUBLIC_URL set) has its
    webhook registered again with the new secret first: when Telegram refuses it or cannot be
    reached, nothing changes and the old secret stays in force."""
    bot = await _bot_or_404(db, cipher, slug)
    secret = bot_queries.new_webhook_secret()
    url = None
    if not bot.polling and settings.public_url:
        url = _webhook_url(settings.public_url, slug)
        await _set_webhook(telegram, bot.token, url, secret)
    async with db.write() as conn:
        if not await bot_queries.replace_webhook_secret(conn, cipher, slug, secret, now=now):
            raise not_found(f"bot '{slug}'")
    log.info(
        "webhook secret rotated", extra={"bot_slug": slug, "webhook_registered": url is not None}
    )
    return WebhookSecretRotated(bot_slug=slug, webhook_url=url)
