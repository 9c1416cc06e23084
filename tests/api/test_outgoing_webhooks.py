"""Outgoing webhooks end to end: endpoints registered through the API, events of a real shot
sent by the engine to the simulator, of blocks and of a sale, delivered signed to a receiver."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import TOKEN, BuildApp, Client, Serve
from sqlalchemy import func, insert, select
from test_flow import wait_until
from webhook_receiver import Receiver

from disparo.config import Settings
from disparo.db.engine import Database
from disparo.db.tables import payment_transactions, telegram_contacts
from disparo.db.tables_webhooks import webhook_deliveries, webhook_endpoints
from disparo.services import engine_background

USERS = list(range(101, 121))
ALL_EVENTS = [
    "shot.started",
    "shot.finished",
    "shot.failed",
    "contact.blocked",
    "contact.deactivated",
    "conversion",
]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver on 127.0.0.1 (its secret is set once the endpoint is registered)."""
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def register(api: Client, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    answer = await api.post("/admin/api/webhooks", {"url": url, "events": events, **extra})
    assert answer.status == 201, answer.body
    body: dict[str, Any] = answer.body
    return body


async def deliveries(api: Client, endpoint_id: int) -> list[dict[str, Any]]:
    answer = await api.get(f"/admin/api/webhooks/{endpoint_id}/deliveries?limit=100")
    assert answer.status == 200, answer.body
    items: list[dict[str, Any]] = answer.body["items"]
    return items


async def test_endpoints_are_registered_listed_and_removed(
    api: Client, bot: dict[str, Any], db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The secret is shown once, stored sealed and never logged; a removed endpoint is gone."""
    caplog.set_level(logging.DEBUG)
    created = await register(
        api, "https://crm.example.com/hooks", ["conversion", "shot.finished"], bot_slug="loja"
    )
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 30
    assert created["events"] == ["shot.finished", "conversion"]
    assert created["bot_slug"] == "loja"
    local = await register(api, "http://127.0.0.1:9/hook", ["shot.started"])
    listed = (await api.get("/admin/api/webhooks")).body["items"]
    assert [e["id"] for e in listed] == [created["id"], local["id"]]
    assert all("secret" not in e for e in listed)
    async with db.read() as conn:
        stored = str(
            await conn.scalar(
                select(webhook_endpoints.c.secret).where(webhook_endpoints.c.id == created["id"])
            )
        )
    assert stored.startswith("fernet:")
    assert secret not in stored
    assert secret not in caplog.text
    assert (await deliveries(api, created["id"])) == []

    assert (await api.delete(f"/admin/api/webhooks/{created['id']}")).status == 204
    assert (await api.delete(f"/admin/api/webhooks/{created['id']}")).status == 404
    gone = await api.get(f"/admin/api/webhooks/{created['id']}/deliveries")
    assert (gone.status, gone.body["error"]["code"]) == (404, "not_found")
    assert [e["id"] for e in (await api.get("/admin/api/webhooks")).body["items"]] == [local["id"]]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"url": "http://crm.example.com/h", "events": ["conversion"]}, "url", "https"),
        ({"url": "ftp://crm.example.com/h", "events": ["conversion"]}, "url", "https://"),
        ({"url": "https://u:p@crm.example.com/h", "events": ["conversion"]}, "url", "password"),
        ({"url": "https://crm.example.com/h", "events": []}, "events", "shot.started"),
        ({"url": "https://crm.example.com/h", "events": ["shot.sent"]}, "events.0", "one of"),
        (
            {"url": "https://crm.example.com/h", "events": ["conversion"], "bot_slug": "nada"},
            "bot_slug",
            "no bot",
        ),
        ({"events": ["conversion"]}, "url", "required"),
        ({"url": "https://x.example.com", "events": ["conversion"], "x": 1}, "x", "not a field"),
    ],
)
async def test_invalid_endpoints_are_422_naming_the_field(
    api: Client, body: dict[str, Any], field: str, says: str
) -> None:
    """Each refusal names the field and says what it accepts."""
    answer = await api.post("/admin/api/webhooks", body)
    assert answer.status == 422, answer.body
    assert answer.body["error"]["code"] == "validation_error"
    assert answer.body["error"]["field"] == field
    assert says in answer.body["error"]["message"]


async def test_a_shot_its_blocks_and_a_sale_reach_the_receiver_signed(
    build_app: BuildApp,
    serve: Serve,
    sim: Client,
    db: Database,
    settings: Settings,
    receiver: Receiver,
) -> None:
    """shot.started, contact.blocked (found by the send and told by Telegram), shot.finished
    with its totals, and a conversion arrive once each, signed, with their idempotency ids."""
    api = await serve(build_app(background=[engine_background(settings, db)]))
    assert (await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})).status == 201
    assert (await api.post("/admin/api/bots/loja/webhook")).status == 200
    endpoint = await register(api, receiver.url, ALL_EVENTS, bot_slug="loja")
    receiver.secret = endpoint["secret"]
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": u} for u in USERS], token=None)
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"start": USERS}, token=None)
    await wait_until(api, "/admin/api/bots/loja/metrics", lambda m: m["active"] == len(USERS))
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": USERS[-1], "state": "blocked"}], token=None)

    created = await api.post(
        "/admin/api/shots", {"bot_slug": "loja", "target": "started", "copy": "Oferta"}
    )
    shot_id = created.body["id"]
    await receiver.wait_for(lambda r: r.of_type("shot.finished"))
    started, finished = receiver.of_type("shot.started"), receiver.of_type("shot.finished")
    assert [e["data"]["shot_id"] for e in started] == [shot_id]
    assert started[0]["data"]["bot_slug"] == "loja"
    data = finished[0]["data"]
    assert (data["shot_id"], data["status"]) == (shot_id, "sent")
    totals = data["totals"]
    assert (totals["total"], totals["sent"], totals["skipped"], totals["error"]) == (20, 19, 1, 0)
    blocked = receiver.of_type("contact.blocked")
    assert [(b["data"]["telegram_id"], b["data"]["source"]) for b in blocked] == [
        (USERS[-1], "send")
    ]
    assert blocked[0]["data"]["shot_id"] == shot_id

    # Telegram tells of a block (my_chat_member), and a user pays after the shot.
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"block": [USERS[0]]}, token=None)
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions).values(
                bot_slug="loja", telegram_id=USERS[1], external_id="p1", status="paid",
                amount_cents=4990, created_at=now, paid_at=now,
            )
        )  # fmt: skip
    await receiver.wait_for(
        lambda r: (
            len(r.of_type("contact.blocked")) == 2
            and any(c["data"]["event"] == "paid" for c in r.of_type("conversion"))
        )
    )
    told = receiver.of_type("contact.blocked")[1]["data"]
    assert (told["telegram_id"], told["source"], told["shot_id"]) == (USERS[0], "update", None)
    paid = next(c for c in receiver.of_type("conversion") if c["data"]["event"] == "paid")
    assert paid["data"] | {"converted_at": None} == {
        "shot_id": shot_id, "bot_slug": "loja", "telegram_id": USERS[1], "event": "paid",
        "variant": None, "converted_at": None, "revenue_cents": 4990,
    }  # fmt: skip

    await wait_until(
        api,
        f"/admin/api/webhooks/{endpoint['id']}/deliveries",
        lambda page: all(d["status"] == "delivered" for d in page["items"]),
    )
    assert all(r.verified for r in receiver.received)
    ids = [r.json["id"] for r in receiver.received]
    assert len(set(ids)) == len(ids)
    for request in receiver.received:
        assert request.headers["Disparo-Event-Id"] == request.json["id"]
        assert request.headers["Disparo-Event-Type"] == request.json["type"]
        assert request.headers["Content-Type"] == "application/json"
    recorded = await deliveries(api, endpoint["id"])
    assert {d["id"] for d in recorded} == set(ids)
    assert all((d["attempts"], d["last_status"]) == (1, 200) for d in recorded)
    assert all(d["next_attempt_at"] is None for d in recorded)


async def test_a_hanging_receiver_does_not_slow_the_shot(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, settings: Settings
) -> None:
    """While the receiver holds a delivery without answering, a whole shot is sent."""
    receiver = Receiver(hang_s=30.0)
    await receiver.start()
    try:
        api = await serve(build_app(background=[engine_background(settings, db)]))
        assert (await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})).status == 201
        await register(api, receiver.url, ["shot.started", "shot.finished"])
        await add_contacts(sim, db, USERS)
        body = {"bot_slug": "loja", "target": "started", "copy": "Oi"}
        first = (await api.post("/admin/api/shots", body)).body["id"]
        await receiver.wait_for(lambda r: r.received)  # it hangs from now on
        await wait_until(api, f"/admin/api/shots/{first}/stats", lambda s: s["status"] == "sent")
        second = (await api.post("/admin/api/shots", body)).body["id"]
        stats = await wait_until(
            api, f"/admin/api/shots/{second}/stats", lambda s: s["status"] == "sent"
        )
        assert stats["sent"] == len(USERS)
        async with db.read() as conn:
            answered = await conn.scalar(
                select(func.count()).where(webhook_deliveries.c.attempts > 0)
            )
        assert answered == 0  # no delivery came back yet, and both shots are done
        assert receiver.received[0].json["data"]["shot_id"] == first
    finally:
        await receiver.stop()


async def add_contacts(sim: Client, db: Database, users: list[int], blocked: int = 0) -> None:
    """Users known to the simulator and stored as active contacts; the last `blocked` ones
    have blocked the bot without Disparo knowing."""
    states: list[dict[str, Any]] = [{"id": u} for u in users[: len(users) - blocked]]
    states += [{"id": u, "state": "blocked"} for u in users[len(users) - blocked :]]
    await sim.post(f"/sim/bots/{TOKEN}/users", states, token=None)
    async with db.write() as conn:
        await conn.execute(
            insert(telegram_contacts),
            [{"bot_slug": "loja", "telegram_id": u, "chat_state": "active"} for u in users],
        )


async def test_without_endpoints_nothing_is_written(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, settings: Settings
) -> None:
    """No endpoint wanting these events: a shot with a block writes no outbox row."""
    api = await serve(build_app(background=[engine_background(settings, db)]))
    assert (await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})).status == 201
    await register(api, "https://crm.example.com/h", ["conversion"])
    await add_contacts(sim, db, [1, 2], blocked=1)
    body = {"bot_slug": "loja", "target": "started", "copy": "Oi"}
    shot = (await api.post("/admin/api/shots", body)).body["id"]
    stats = await wait_until(api, f"/admin/api/shots/{shot}/stats", lambda s: s["status"] == "sent")
    assert (stats["sent"], stats["skipped"]) == (1, 1)
    async with db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(webhook_deliveries)) == 0
