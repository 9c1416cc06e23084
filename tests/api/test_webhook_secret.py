"""The webhook secret: stored sealed, plain values of old still accepted, and its rotation
(POST /admin/api/bots/{slug}/webhook-secret:rotate) re-registering the webhook at Telegram."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from api_support import ADMIN_TOKEN, SECRET_KEY, TOKEN, BuildApp, Client, Serve
from sqlalchemy import select, update

from disparo.db.engine import Database
from disparo.db.secrets import SEALED_PREFIX, TokenCipher
from disparo.db.tables import bots, telegram_contacts
from disparo.simulator import SimulatorServer

BOTS = "/admin/api/bots"
ROTATE = f"{BOTS}/loja/webhook-secret:rotate"
WEBHOOK = "/telegram/loja/webhook"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def stored_secret(db: Database) -> str:
    """The raw webhook_secret column of bot `loja`, as stored."""
    async with db.read() as conn:
        stored: str = await conn.scalar(select(bots.c.webhook_secret))
    return stored


def telegram_secret(simulator: SimulatorServer) -> str | None:
    """The secret_token the simulated Telegram sends with loja's updates (None: no webhook)."""
    bot = simulator.world.bot(TOKEN)
    assert bot is not None
    hook = bot.feed.webhook
    return hook.secret_token if hook is not None else None


def start(update_id: int, user_id: int = 42) -> dict[str, Any]:
    """A /start message update from a private chat."""
    user = {"id": user_id, "is_bot": False, "first_name": "Ana"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": "Ana"},
            "date": 1764460800,
            "text": "/start",
        },
    }


async def wait_for_contact(db: Database, telegram_id: int) -> None:
    """Until the contact exists (the simulator delivers updates in the background)."""
    for _ in range(250):
        async with db.read() as conn:
            query = select(telegram_contacts.c.telegram_id).where(
                telegram_contacts.c.telegram_id == telegram_id
            )
            if await conn.scalar(query) is not None:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"contact {telegram_id} never arrived through the webhook")


async def test_the_webhook_secret_is_stored_sealed(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """With DISPARO_SECRET_KEY the column holds a Fernet seal, not the secret; the opened
    secret is the one the webhook route accepts."""
    stored = await stored_secret(db)
    assert stored.startswith(SEALED_PREFIX)
    secret = TokenCipher(SECRET_KEY).open(stored)
    assert len(secret) >= 32
    assert secret not in stored
    accepted = await api.post(WEBHOOK, start(1), token=None, headers={HEADER: secret})
    assert accepted.status == 200, accepted.body
    refused = await api.post(WEBHOOK, start(2), token=None, headers={HEADER: stored})
    assert refused.status == 403


async def test_a_plain_secret_stored_before_a_key_still_opens(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A webhook secret stored in plain text (before DISPARO_SECRET_KEY was set) keeps working."""
    plain = "plain-secret-from-before-the-key-was-set_0123"
    async with db.write() as conn:
        await conn.execute(update(bots).values(webhook_secret=plain))
    answer = await api.post(WEBHOOK, start(1), token=None, headers={HEADER: plain})
    assert answer.status == 200, answer.body


async def test_rotation_re_registers_the_webhook_and_refuses_the_old_secret(
    build_app: BuildApp,
    serve: Serve,
    simulator: SimulatorServer,
    sim: Client,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The rotation stores a new sealed secret and gives it to Telegram with setWebhook; the
    old secret is refused from then on, Telegram's next update (new secret) is applied, and no
    answer or log line carries either secret."""
    caplog.set_level(logging.DEBUG)
    api = await serve(build_app())
    assert (await api.post(BOTS, {"slug": "loja", "token": TOKEN})).status == 201
    assert (await api.post(f"{BOTS}/loja/webhook")).status == 200
    old = TokenCipher(SECRET_KEY).open(await stored_secret(db))
    assert telegram_secret(simulator) == old

    answer = await api.post(ROTATE)
    assert answer.status == 200, answer.body
    assert answer.body == {"bot_slug": "loja", "webhook_url": f"{api.base_url}{WEBHOOK}"}
    stored = await stored_secret(db)
    assert stored.startswith(SEALED_PREFIX)
    new = TokenCipher(SECRET_KEY).open(stored)
    assert new != old
    assert new not in stored
    assert telegram_secret(simulator) == new

    refused = await api.post(WEBHOOK, start(1), token=None, headers={HEADER: old})
    assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 77, "first_name": "Bia"}], token=None)
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"start": [77]}, token=None)
    await wait_for_contact(db, 77)

    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in (old, new):
        assert secret not in answer.text + str(answer.headers)
        assert secret not in logged
    assert any(r.getMessage() == "webhook secret rotated" for r in caplog.records)


async def test_rotation_of_a_polling_bot_only_replaces_the_secret(
    api: Client, simulator: SimulatorServer, db: Database
) -> None:
    """A polling bot has no webhook to update: the secret changes, Telegram is not called."""
    await api.post(BOTS, {"slug": "loja", "token": TOKEN, "polling": True})
    before = TokenCipher(SECRET_KEY).open(await stored_secret(db))
    answer = await api.post(ROTATE)
    assert answer.status == 200, answer.body
    assert answer.body == {"bot_slug": "loja", "webhook_url": None}
    after = TokenCipher(SECRET_KEY).open(await stored_secret(db))
    assert after != before
    assert telegram_secret(simulator) is None


async def test_rotation_that_telegram_refuses_changes_nothing(
    api: Client, sim: Client, bot: dict[str, Any], db: Database
) -> None:
    """When setWebhook fails (here the token was revoked) the answer says why and the stored
    secret is the same; an unknown bot is a 404; the route needs the admin token."""
    before = await stored_secret(db)
    await sim.post(f"/sim/bots/{TOKEN}/revoke", token=None)
    refused = await api.post(ROTATE)
    assert (refused.status, refused.body["error"]["code"]) == (422, "telegram_error")
    assert "Telegram refused the webhook" in refused.body["error"]["message"]
    assert await stored_secret(db) == before
    missing = await api.post(f"{BOTS}/nobody/webhook-secret:rotate")
    assert (missing.status, missing.body["error"]["code"]) == (404, "not_found")
    anonymous = await api.post(ROTATE, token=None)
    assert anonymous.status == 401
    wrong = await api.post(ROTATE, token=ADMIN_TOKEN[:-1])
    assert wrong.status == 401
    assert await stored_secret(db) == before
