"""Updates: /start and my_chat_member, getUpdates offsets and long polling, webhook delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from disparo.simulator import SimulatorConfig, SimulatorServer


class Receiver:
    """A tiny webhook endpoint that records what Telegram posts and answers a set status."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[dict[str, str], Any]] = asyncio.Queue()
        self.statuses: list[int] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        status = self.statuses.pop(0) if self.statuses else 200
        self.received.put_nowait((dict(request.headers), await request.json()))
        return web.Response(status=status, text="ok")

    async def next(self) -> tuple[dict[str, str], Any]:
        return await asyncio.wait_for(self.received.get(), timeout=5)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on an ephemeral port."""
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    hook.url = f"http://127.0.0.1:{port}/hook"
    yield hook
    await runner.cleanup()


async def _updates(sim, **params: Any) -> list[dict[str, Any]]:
    status, body = await sim.call("getUpdates", json=params)
    assert status == 200, body
    result: list[dict[str, Any]] = body["result"]
    return result


async def test_start_update_has_the_documented_shape(sim, token):
    """A simulated /start is a message update with a bot_command entity and pt-br user."""
    await sim.users({"id": 5, "first_name": "Ana", "last_name": "Lima", "username": "ana"})
    queued = await sim.control(f"bots/{token}/updates", {"start": [5]})
    assert queued == {"update_ids": [1]}
    [update] = await _updates(sim)
    message = update["message"]
    assert update["update_id"] == 1
    assert message["text"] == "/start"
    assert message["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert message["from"] == {
        "id": 5,
        "is_bot": False,
        "first_name": "Ana",
        "last_name": "Lima",
        "username": "ana",
        "language_code": "pt-br",
    }
    assert message["chat"]["type"] == "private"
    assert message["chat"]["id"] == 5
    assert isinstance(message["message_id"], int)
    assert isinstance(message["date"], int)


async def test_a_user_writes_a_text_message_only_while_active(sim, token):
    """A user's message is a message update without entities, numbered after the chat's
    earlier messages; a blocked user cannot write, and nothing of a refused batch is queued."""
    await sim.users({"id": 6, "first_name": "Bia"}, {"id": 7, "state": "blocked"})
    await sim.control(f"bots/{token}/updates", {"start": [6]})
    queued = await sim.control(
        f"bots/{token}/updates", {"message": [{"id": 6, "text": "Ainda tem?"}]}
    )
    assert queued == {"update_ids": [2]}
    started, wrote = await _updates(sim)
    assert wrote["message"]["text"] == "Ainda tem?"
    assert "entities" not in wrote["message"]
    assert wrote["message"]["from"]["id"] == wrote["message"]["chat"]["id"] == 6
    assert wrote["message"]["message_id"] == started["message"]["message_id"] + 1
    refused = {"message": [{"id": 6, "text": "oi"}, {"id": 7, "text": "oi"}]}
    async with sim.session.post(f"{sim.base_url}/sim/bots/{token}/updates", json=refused) as r:
        assert r.status == 400
        assert "user 7 is blocked" in (await r.json())["description"]
    async with sim.session.post(
        f"{sim.base_url}/sim/bots/{token}/updates", json={"message": [{"id": 6, "text": ""}]}
    ) as r:
        assert r.status == 400
    assert [u["update_id"] for u in await _updates(sim, offset=3)] == []


async def test_block_and_unblock_send_my_chat_member_and_change_state(sim, token):
    """Blocking queues kicked (and sending gets 403); unblocking queues member (and works)."""
    await sim.control(f"bots/{token}/updates", {"block": [8]})
    status, body = await sim.send(8)
    assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")
    await sim.control(f"bots/{token}/updates", {"unblock": [8]})
    assert (await sim.send(8))[0] == 200
    blocked, unblocked = await _updates(sim)
    change = blocked["my_chat_member"]
    assert change["old_chat_member"]["status"] == "member"
    assert change["new_chat_member"]["status"] == "kicked"
    assert change["new_chat_member"]["user"]["is_bot"] is True
    assert change["from"]["id"] == 8
    assert unblocked["my_chat_member"]["new_chat_member"]["status"] == "member"
    assert unblocked["update_id"] == blocked["update_id"] + 1


async def test_get_updates_offset_limit_and_negative_offset(sim, token):
    """Offsets confirm earlier updates, limit caps the answer, a negative offset keeps the tail."""
    await sim.control(f"bots/{token}/updates", {"start": [1, 2, 3, 4]})
    assert [u["update_id"] for u in await _updates(sim)] == [1, 2, 3, 4]
    assert [u["update_id"] for u in await _updates(sim, offset=3)] == [3, 4]
    assert [u["update_id"] for u in await _updates(sim)] == [3, 4]  # 1 and 2 confirmed
    assert [u["update_id"] for u in await _updates(sim, limit=1)] == [3]
    assert [u["update_id"] for u in await _updates(sim, offset=-1)] == [4]
    assert await _updates(sim, offset=5) == []
    await sim.control(f"bots/{token}/updates", {"start": [1]})
    assert [u["update_id"] for u in await _updates(sim)] == [5]


async def test_long_polling_returns_when_an_update_arrives(sim, token):
    """getUpdates with a timeout waits and returns as soon as an update is queued."""
    poll = asyncio.create_task(_updates(sim, timeout=10))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await sim.control(f"bots/{token}/updates", {"start": [3]})
    updates = await asyncio.wait_for(poll, timeout=5)
    assert updates[0]["message"]["chat"]["id"] == 3


async def test_a_newer_get_updates_terminates_a_waiting_one(sim):
    """A second getUpdates makes the waiting one answer 409 terminated by other request."""
    first = asyncio.create_task(sim.call("getUpdates", json={"timeout": 10}))
    await asyncio.sleep(0.05)
    assert await _updates(sim) == []
    status, body = await asyncio.wait_for(first, timeout=5)
    assert status == 409
    assert body["description"] == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
        "is running"
    )


async def test_webhook_receives_updates_with_the_secret_header(sim, token, receiver):
    """After setWebhook, queued updates are POSTed with X-Telegram-Bot-Api-Secret-Token."""
    status, body = await sim.call(
        "setWebhook", json={"url": receiver.url, "secret_token": "s3cr3t_T0ken"}
    )
    assert (status, body) == (200, {"ok": True, "result": True, "description": "Webhook was set"})
    await sim.control(f"bots/{token}/updates", {"start": [11], "block": [12]})
    posts = [await receiver.next(), await receiver.next()]
    assert all(h["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_T0ken" for h, _ in posts)
    first, second = sorted((update for _, update in posts), key=lambda u: u["update_id"])
    assert first["message"]["text"] == "/start"
    assert second["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert second["update_id"] == first["update_id"] + 1
    _, info = await sim.call("getWebhookInfo")
    assert info["result"]["url"] == receiver.url
    assert info["result"]["pending_update_count"] == 0


async def test_webhook_gets_every_update_exactly_once_in_parallel(sim, token, receiver):
    """Many queued updates all reach the webhook once, over parallel connections."""
    await sim.call("setWebhook", json={"url": receiver.url, "max_connections": 10})
    ids = list(range(1000, 1200))
    await sim.control(f"bots/{token}/updates", {"start": ids})
    received = [await receiver.next() for _ in ids]
    chats = sorted(update["message"]["chat"]["id"] for _, update in received)
    assert chats == ids
    for _ in range(100):  # the last answers may still be on their way back
        stats = (await sim.control("stats", method="GET"))["bots"][token.split(":")[0]]
        if stats["pending_updates"] == 0:
            break
        await asyncio.sleep(0.01)
    assert stats["webhook_delivered"] == len(ids)
    assert stats["pending_updates"] == 0


async def test_get_updates_is_refused_while_a_webhook_is_set(sim, receiver):
    """getUpdates with an active webhook is 409; after deleteWebhook it works again."""
    await sim.call("setWebhook", json={"url": receiver.url})
    status, body = await sim.call("getUpdates")
    assert (status, body["description"]) == (
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first",
    )
    _, deleted = await sim.call("deleteWebhook")
    assert deleted["description"] == "Webhook was deleted"
    assert await _updates(sim) == []
    _, info = await sim.call("getWebhookInfo")
    assert info["result"]["url"] == ""


async def test_webhook_failures_are_retried_and_reported(sim, token, receiver):
    """A webhook answering 500 gets the same update again; getWebhookInfo shows the error."""
    receiver.statuses = [500]
    await sim.call("setWebhook", json={"url": receiver.url})
    await sim.control(f"bots/{token}/updates", {"start": [21]})
    _, failed = await receiver.next()
    _, retried = await receiver.next()
    assert retried["update_id"] == failed["update_id"]
    _, info = await sim.call("getWebhookInfo")
    assert info["result"]["last_error_message"] == "Wrong response from the webhook: 500"


async def test_set_webhook_refuses_other_schemes(sim):
    """A webhook URL must be http(s)."""
    status, body = await sim.call("setWebhook", json={"url": "ftp://example.com/hook"})
    assert (status, body["description"]) == (
        400,
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
    )


async def test_stop_releases_a_waiting_long_poll_and_a_webhook_task(token, other_token):
    """Stopping with a long poll waiting and a webhook retrying leaves nothing pending."""
    server = SimulatorServer(SimulatorConfig(latency_ms=0))
    await server.start()
    async with aiohttp.ClientSession() as session:
        bot = f"{server.base_url}/bot{token}"
        unreachable = {"url": "http://127.0.0.1:9/hook"}  # the discard port: nobody listens
        async with session.post(f"{bot}/setWebhook", json=unreachable) as response:
            assert response.status == 200
        control = f"{server.base_url}/sim/bots/{token}/updates"
        async with session.post(control, json={"start": [1]}) as response:
            assert response.status == 200
        poll = asyncio.create_task(
            session.post(f"{server.base_url}/bot{other_token}/getUpdates", json={"timeout": 30})
        )
        await asyncio.sleep(0.05)
        await server.stop()
        with pytest.raises(aiohttp.ClientError):
            await poll
