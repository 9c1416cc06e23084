"""Error classes by user state, strict users, flood limits (bot, chat, paid) and 429 storms."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("state", "code", "description"),
    [
        ("blocked", 403, "Forbidden: bot was blocked by the user"),
        ("deactivated", 403, "Forbidden: user is deactivated"),
        ("missing", 400, "Bad Request: chat not found"),
    ],
)
async def test_user_states_answer_telegram_errors(sim, token, state, code, description):
    """Blocked, deactivated and missing users answer 403, 403 and 400 byte for byte."""
    await sim.users({"id": 42, "state": state, "first_name": "Ana"})
    async with sim.session.post(
        f"{sim.base_url}/bot{token}/sendMessage",
        json={"chat_id": 42, "text": "oi"},
    ) as response:
        assert response.status == code
        expected = f'{{"ok":false,"error_code":{code},"description":"{description}"}}'
        assert await response.text() == expected
    assert await sim.messages(42) == []


async def test_unknown_chat_is_an_active_user_by_default(sim):
    """Without --strict-users a chat id never mentioned is an active user."""
    status, body = await sim.send(555_000_111)
    assert status == 200
    assert body["result"]["chat"]["id"] == 555_000_111


async def test_strict_users_refuse_unknown_chats(start_simulator):
    """With --strict-users an unknown chat id is 400 chat not found; a known one is served."""
    sim = await start_simulator(strict_users=True)
    status, body = await sim.send(555_000_111)
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    await sim.users({"id": 555_000_111, "state": "active", "first_name": "Bia"})
    status, _ = await sim.send(555_000_111)
    assert status == 200


async def test_non_numeric_chat_is_not_found(sim):
    """A @username the simulator does not model is chat not found."""
    status, body = await sim.send("@canal_inexistente")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_31st_message_in_one_second_gets_429(sim):
    """30 messages to 30 chats pass; the 31st in the same second gets 429 with retry_after."""
    for chat_id in range(1, 31):
        status, _ = await sim.send(chat_id)
        assert status == 200
    status, body = await sim.send(31)
    assert status == 429
    retry_after = body["parameters"]["retry_after"]
    assert isinstance(retry_after, int)
    assert retry_after >= 1
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }
    stats = (await sim.control("stats", method="GET"))["bots"]["123456789"]
    assert stats["delivered"] == 30  # the refused one was not sent
    assert stats["429"] == 1


async def test_per_bot_limit_is_configurable(sim, token):
    """POST /sim/bots/<token>/limits sets the per-second limit of that bot."""
    await sim.control(f"bots/{token}/limits", {"per_second": 2})
    assert (await sim.send(1))[0] == 200
    assert (await sim.send(2))[0] == 200
    assert (await sim.send(3))[0] == 429


async def test_limits_are_per_bot(sim, token, other_token):
    """One bot at its limit does not slow another bot."""
    await sim.control(f"bots/{token}/limits", {"per_second": 1})
    assert (await sim.send(1))[0] == 200
    assert (await sim.send(2))[0] == 429
    status, _ = await sim.call("sendMessage", other_token, json={"chat_id": 2, "text": "x"})
    assert status == 200


async def test_per_chat_limit_allows_a_small_burst(sim):
    """One chat takes an audio and its follow-up text (burst of 3), then gets 429."""
    status, _ = await sim.call(
        "sendAudio", json={"chat_id": 9, "audio": "https://cdn.example.com/aula.mp3"}
    )
    assert status == 200
    assert (await sim.send(9, "texto da aula"))[0] == 200
    assert (await sim.send(9, "terceira"))[0] == 200
    status, body = await sim.send(9, "quarta")
    assert status == 429
    assert body["parameters"]["retry_after"] >= 1
    assert (await sim.send(10))[0] == 200  # another chat is not affected


async def test_paid_broadcast_has_its_own_limit(sim, token):
    """allow_paid_broadcast messages are metered by the paid limit, not the free one."""
    await sim.control(f"bots/{token}/limits", {"per_second": 2, "paid_per_second": 5})
    assert (await sim.send(1))[0] == 200
    assert (await sim.send(2))[0] == 200
    assert (await sim.send(3))[0] == 429
    for chat_id in range(10, 15):
        status, _ = await sim.send(chat_id, allow_paid_broadcast=True)
        assert status == 200
    assert (await sim.send(15, allow_paid_broadcast=True))[0] == 429
    recorded = await sim.messages(10)
    assert recorded[0]["allow_paid_broadcast"] is True


async def test_non_sending_methods_do_not_count(sim, token):
    """getMe and getWebhookInfo are not messages and never meet the flood limit."""
    await sim.control(f"bots/{token}/limits", {"per_second": 1})
    for _ in range(5):
        assert (await sim.call("getMe"))[0] == 200
        assert (await sim.call("getWebhookInfo"))[0] == 200
    assert (await sim.send(1))[0] == 200


async def test_storm_answers_429_with_the_remaining_seconds(sim, token, other_token):
    """During a 429 storm every sending request to that bot gets retry_after = time left."""
    await sim.control("faults", {"retry_after_storm": {"bot": token, "seconds": 5}})
    for chat_id in (1, 2, 3):
        status, body = await sim.send(chat_id)
        assert status == 429
        assert 1 <= body["parameters"]["retry_after"] <= 5
        assert body["description"] == (
            f"Too Many Requests: retry after {body['parameters']['retry_after']}"
        )
    assert (await sim.call("getMe"))[0] == 200  # not a sending method
    status, _ = await sim.call("sendMessage", other_token, json={"chat_id": 1, "text": "x"})
    assert status == 200  # other bots are not in the storm
    await sim.control("faults", {})
    assert (await sim.send(1))[0] == 200


async def test_revoked_token_gets_401(sim, token):
    """After /sim/bots/<token>/revoke the token answers 401 Unauthorized."""
    assert (await sim.call("getMe"))[0] == 200
    await sim.control(f"bots/{token}/revoke")
    status, body = await sim.call("getMe")
    assert (status, body["description"]) == (401, "Unauthorized")
