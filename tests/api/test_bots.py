"""Bot management: registration checked with getMe, settings, deletion, metrics card, webhook."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import OTHER_TOKEN, SECRET_KEY, TOKEN, BuildApp, Client, Serve
from sqlalchemy import func, insert, select, update

from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.db.tables import bots, shots_queue, shots_sent, telegram_contacts

BOTS = "/admin/api/bots"


async def test_register_bot(api: Client, db: Database) -> None:
    """The token is checked with getMe, stored encrypted, and shown masked."""
    answer = await api.post(
        BOTS,
        {"slug": "loja", "token": TOKEN, "rate_per_s": 20, "timezone": "America/Manaus"},
    )
    assert answer.status == 201, answer.body
    created = answer.body
    assert created["token"] == "123456789:****"
    assert created["telegram_bot_id"] == 123456789
    assert created["telegram_username"]
    assert created["name"]  # Telegram's first_name when no name is given
    assert (created["rate_per_s"], created["timezone"]) == (20, "America/Manaus")
    assert (created["paid_broadcast"], created["polling"]) == (False, False)
    async with db.read() as conn:
        stored = (await conn.execute(select(bots.c.token, bots.c.webhook_secret))).one()
    assert TOKEN not in stored.token
    assert TokenCipher(SECRET_KEY).open(stored.token) == TOKEN
    assert len(stored.webhook_secret) >= 32
    listed = await api.get(BOTS)
    assert listed.body == {"items": [created]}
    assert (await api.get(f"{BOTS}/loja")).body == created


async def test_register_bot_refusals(api: Client, sim: Client, bot: dict[str, Any]) -> None:
    """Duplicates are 409; bad settings and tokens Telegram refuses are 422 on the field."""
    same_slug = await api.post(BOTS, {"slug": "loja", "token": OTHER_TOKEN})
    assert (same_slug.status, same_slug.body["error"]["field"]) == (409, "slug")
    same_bot = await api.post(BOTS, {"slug": "loja2", "token": TOKEN})
    assert (same_bot.status, same_bot.body["error"]["field"]) == (409, "token")
    assert "already registered as 'loja'" in same_bot.body["error"]["message"]
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"slug": "Loja Nova"}, "slug", "slug"),
        ({"rate_per_s": 31}, "rate_per_s", "paid_broadcast"),
        ({"rate_per_s": 0}, "rate_per_s", "greater than or equal to 1"),
        ({"rate_per_s": 1001, "paid_broadcast": True}, "rate_per_s", "1000"),
        ({"timezone": "America/Gotham"}, "timezone", "IANA"),
        ({"timezone": "/".join(["America"] * 300)}, "timezone", "IANA"),
        ({"timezone": "../../etc/passwd"}, "timezone", "IANA"),
        ({"timezone": "America/../America/Sao_Paulo"}, "timezone", "IANA"),
        ({"token": "not-a-token"}, "token", "123456789:AAE"),
    ]
    for change, field, says in cases:
        answer = await api.post(BOTS, {"slug": "nova", "token": OTHER_TOKEN, **change})
        assert answer.status == 422, (change, answer.body)
        assert answer.body["error"]["field"] == field
        assert says in answer.body["error"]["message"], answer.body
        assert len(answer.body["error"]["message"]) < 200  # a hostile name is not echoed whole
    paid = await api.post(
        BOTS, {"slug": "nova", "token": OTHER_TOKEN, "rate_per_s": 500, "paid_broadcast": True}
    )
    assert (paid.status, paid.body["rate_per_s"]) == (201, 500)
    await sim.post(f"/sim/bots/{OTHER_TOKEN}/revoke", token=None)
    await api.delete(f"{BOTS}/nova")
    revoked = await api.post(BOTS, {"slug": "nova", "token": OTHER_TOKEN})
    assert (revoked.status, revoked.body["error"]["field"]) == (422, "token")
    assert "Telegram refused this token (401" in revoked.body["error"]["message"]
    assert OTHER_TOKEN not in revoked.text


async def test_register_bot_when_telegram_is_unreachable(
    build_app: BuildApp, serve: Serve, settings: Any
) -> None:
    """A Bot API server that cannot be reached is a 502 telegram_error, not a 500."""
    from disparo.telegram import BotAPI

    api = await serve(build_app(telegram=BotAPI("http://127.0.0.1:9", timeout_s=2.0)))
    answer = await api.post(BOTS, {"slug": "loja", "token": TOKEN})
    assert answer.status == 502
    assert answer.body["error"]["code"] == "telegram_error"
    assert TOKEN not in answer.text


async def test_edit_bot(api: Client, bot: dict[str, Any], db: Database) -> None:
    """Settings change; a token of the same bot is accepted, another bot's is refused."""
    answer = await api.patch(
        f"{BOTS}/loja",
        {"rate_per_s": 200, "paid_broadcast": True, "polling": True, "name": "Loja 2"},
    )
    assert answer.status == 200, answer.body
    assert (answer.body["rate_per_s"], answer.body["paid_broadcast"]) == (200, True)
    assert (answer.body["polling"], answer.body["name"]) == (True, "Loja 2")
    unpaid = await api.patch(f"{BOTS}/loja", {"paid_broadcast": False})
    assert (unpaid.status, unpaid.body["error"]["field"]) == (422, "rate_per_s")
    rotated = "123456789:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"
    assert (await api.patch(f"{BOTS}/loja", {"token": rotated})).status == 200
    async with db.read() as conn:
        stored = await conn.scalar(select(bots.c.token))
    assert TokenCipher(SECRET_KEY).open(stored) == rotated
    other = await api.patch(f"{BOTS}/loja", {"token": OTHER_TOKEN})
    assert (other.status, other.body["error"]["field"]) == (422, "token")
    assert (await api.patch(f"{BOTS}/loja", {"timezone": "Mars/Base"})).status == 422
    assert (await api.patch(f"{BOTS}/loja", {"polling": None})).status == 422
    assert (await api.patch(f"{BOTS}/nobody", {"name": "x"})).status == 404


async def test_delete_bot(api: Client, bot: dict[str, Any], db: Database) -> None:
    """A bot with a running shot cannot be deleted; otherwise it goes with its data."""
    shot = await api.post(
        "/admin/api/shots", {"bot_slug": "loja", "target": "started", "copy": "oi"}
    )
    async with db.write() as conn:
        await conn.execute(update(shots_queue).values(status="running"))
    busy = await api.delete(f"{BOTS}/loja")
    assert busy.status == 409
    assert "running shot" in busy.body["error"]["message"]
    async with db.write() as conn:
        await conn.execute(update(shots_queue).values(status="sent"))
        delivery = {"shot_id": shot.body["id"], "bot_slug": "loja", "telegram_id": 7, "seq": 1}
        await conn.execute(insert(shots_sent).values(**delivery, status="sent"))
    gone = await api.delete(f"{BOTS}/loja")
    assert gone.status == 204
    assert (await api.get(f"{BOTS}/loja")).status == 404
    assert (await api.get(f"/admin/api/shots/{shot.body['id']}")).status == 404
    async with db.read() as conn:  # its deliveries too (no foreign key cascades on PostgreSQL)
        assert await conn.scalar(select(func.count()).select_from(shots_sent)) == 0
    assert (await api.delete(f"{BOTS}/loja")).status == 404


async def test_metrics_card(api: Client, bot: dict[str, Any], db: Database) -> None:
    """Contacts by state, and the change over 24 h: started, blocked, deactivated, active."""
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=10), now - timedelta(hours=2)

    def contact(telegram_id: int, state: str, started: datetime, blocked: Any = None) -> Any:
        return {
            "bot_slug": "loja",
            "telegram_id": telegram_id,
            "chat_state": state,
            "started_at": started,
            "blocked_at": blocked,
        }

    async with db.write() as conn:
        await conn.execute(
            insert(telegram_contacts),
            [
                contact(1, "active", old),
                contact(2, "active", old),
                contact(3, "active", recent),  # new today
                contact(4, "blocked", old, recent),  # blocked today
                contact(5, "blocked", old, old),  # blocked long ago
                contact(6, "deactivated", old, recent),  # found deactivated today
                contact(7, "blocked", recent, recent),  # started and blocked today
            ],
        )
    answer = await api.get(f"{BOTS}/loja/metrics")
    assert answer.status == 200
    assert answer.body == {
        "bot_slug": "loja",
        "total": 7,
        "active": 3,
        "blocked": 3,
        "deactivated": 1,
        # active 24 h ago: 1, 2, 4, 6 → 4; now 3 → -1
        "change_24h": {"started": 2, "blocked": 2, "deactivated": 1, "active": -1},
    }
    assert (await api.get(f"{BOTS}/nobody/metrics")).status == 404


async def test_webhook_registration_and_delivery_end_to_end(
    api: Client, sim: Client, bot: dict[str, Any], db: Database
) -> None:
    """setWebhook points Telegram at us; a user's /start and block then reach the contacts."""
    answer = await api.post(f"{BOTS}/loja/webhook")
    assert answer.status == 200, answer.body
    assert answer.body["url"] == f"{api.base_url}/telegram/loja/webhook"
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 77, "first_name": "Ana"}], token=None)
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"start": [77]}, token=None)
    contact = await _wait_for_contact(db, 77, "active")
    assert contact["first_name"] == "Ana"
    assert contact["started_at"] is not None
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"block": [77]}, token=None)
    blocked = await _wait_for_contact(db, 77, "blocked")
    assert blocked["blocked_at"] is not None


async def _wait_for_contact(db: Database, telegram_id: int, state: str) -> Any:
    for _ in range(200):
        async with db.read() as conn:
            row = (
                (
                    await conn.execute(
                        select(telegram_contacts).where(
                            telegram_contacts.c.telegram_id == telegram_id
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is not None and row["chat_state"] == state:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"contact {telegram_id} never became {state}")


async def test_webhook_registration_refusals(
    build_app: BuildApp, serve: Serve, settings: Any
) -> None:
    """Without DISPARO_PUBLIC_URL the answer says to set it; a polling bot is a 409."""
    api = await serve(build_app(settings=settings.model_copy(update={"public_url": None})))
    await api.post(BOTS, {"slug": "loja", "token": TOKEN, "polling": True})
    unset = await api.post(f"{BOTS}/loja/webhook")
    assert (unset.status, unset.body["error"]["field"]) == (422, "DISPARO_PUBLIC_URL")
    assert "DISPARO_PUBLIC_URL is not set" in unset.body["error"]["message"]
    assert (await api.post(f"{BOTS}/nobody/webhook")).status == 422


async def test_webhook_registration_of_a_polling_bot(api: Client) -> None:
    """A bot set to polling must be switched off polling before a webhook is set."""
    await api.post(BOTS, {"slug": "loja", "token": TOKEN, "polling": True})
    answer = await api.post(f"{BOTS}/loja/webhook")
    assert (answer.status, answer.body["error"]["field"]) == (409, "polling")
    assert (await api.post(f"{BOTS}/nobody/webhook")).status == 404
