"""The /sim/ control API: users, limits, delivered messages, stats, duplicates, reset."""

from __future__ import annotations

import logging


async def test_users_are_upserted(sim, token):
    """POST users adds new ones and changes existing ones, names included."""
    await sim.users({"id": 1, "state": "active", "first_name": "Ana"})
    await sim.users({"id": 1, "state": "blocked"}, {"id": 2, "first_name": "Bia", "username": "b"})
    users = await sim.control(f"bots/{token}/users", method="GET")
    by_id = {user["id"]: user for user in users}
    assert by_id[1]["state"] == "blocked"
    assert by_id[1]["first_name"] == "Ana"
    assert by_id[2]["state"] == "active"
    assert by_id[2]["username"] == "b"


async def test_bad_control_bodies_name_the_problem(sim, token):
    """A wrong state or a bad limit is a 400 that says what is accepted."""
    async with sim.session.post(
        f"{sim.base_url}/sim/bots/{token}/users", json=[{"id": 1, "state": "asleep"}]
    ) as response:
        assert response.status == 400
        description = (await response.json())["description"]
        assert "active, blocked, deactivated, missing" in description
    async with sim.session.post(
        f"{sim.base_url}/sim/bots/{token}/limits", json={"per_second": 0}
    ) as response:
        assert response.status == 400
        assert "per_second" in (await response.json())["description"]
    async with sim.session.post(f"{sim.base_url}/sim/bots/not-a-token/users", json=[]) as response:
        assert response.status == 400


async def test_limits_are_read_back(sim, token):
    """POST limits changes only the given keys; GET shows them."""
    await sim.control(f"bots/{token}/limits", {"per_second": 20, "per_chat_burst": 5})
    limits = await sim.control(f"bots/{token}/limits", method="GET")
    assert limits["per_second"] == 20
    assert limits["per_chat_burst"] == 5
    assert limits["paid_per_second"] == 1000


async def test_messages_list_every_delivery_in_order(sim):
    """GET messages shows each delivered message with method, chat, content, flags and time."""
    markup = {"inline_keyboard": [[{"text": "Ver", "url": "https://e.com"}]]}
    await sim.call(
        "sendAudio",
        json={"chat_id": 1, "audio": "https://cdn.e.com/a.mp3", "caption": "aula"},
    )
    await sim.send(1, "texto", reply_markup=markup, allow_paid_broadcast=True)
    await sim.send(2, "outro")
    await sim.send(3, "bloqueado?")  # delivered: unknown ids are active users
    everything = await sim.messages()
    assert [m["chat_id"] for m in everything] == [1, 1, 2, 3]
    first, second = await sim.messages(1)
    assert first["method"] == "sendAudio"
    assert first["media"] == {"type": "audio", "source": "https://cdn.e.com/a.mp3"}
    assert first["caption"] == "aula"
    assert second["text"] == "texto"
    assert second["reply_markup"] == markup
    assert second["allow_paid_broadcast"] is True
    assert first["allow_paid_broadcast"] is False
    assert second["time"] >= first["time"]
    assert await sim.messages(999) == []


async def test_stats_count_duplicates_by_bot_id_never_token(sim, token, other_token):
    """Stats are keyed by bot id, count outcomes, and list chats with more than one message."""
    await sim.users({"id": 4, "state": "blocked", "first_name": "Bloq"})
    await sim.send(1, "a")
    await sim.send(1, "b")
    await sim.send(2, "c")
    await sim.send(4, "d")
    await sim.call("nope")
    await sim.call("getMe", other_token)
    async with sim.session.get(f"{sim.base_url}/sim/stats") as response:
        raw = await response.text()
        stats = (await response.json())["result"]
    assert token not in raw
    assert other_token not in raw
    bot = stats["bots"][token.split(":")[0]]
    assert bot["requests"] == 5
    assert bot["delivered"] == 3
    assert bot["4xx"] == 2  # the 403 and the 404
    assert bot["duplicates"] == {"count": 1, "chat_ids": [1]}
    assert bot["messages_per_chat_max"] == 2
    assert stats["bots"][other_token.split(":")[0]]["requests"] == 1
    assert stats["totals"]["delivered"] == 3
    assert stats["totals"]["duplicates"] == 1


async def test_reset_returns_to_the_start_state(sim, token):
    """POST /sim/reset forgets users, messages, limits, faults and counters."""
    await sim.users({"id": 1, "state": "blocked", "first_name": "Ana"})
    await sim.control(f"bots/{token}/limits", {"per_second": 1})
    await sim.control("faults", {"error_5xx": 1.0})
    await sim.control("reset")
    assert (await sim.control("stats", method="GET"))["bots"] == {}
    status, body = await sim.send(1)
    assert status == 200  # user 1 is forgotten, hence active again; no 5xx any more
    assert body["result"]["message_id"] == 1
    assert (await sim.send(2))[0] == 200
    assert (await sim.control(f"bots/{token}/limits", method="GET"))["per_second"] == 30


async def test_request_log_names_the_bot_by_id_only(start_simulator, token, caplog):
    """With request logging on, log lines show the bot id and never the token."""
    sim = await start_simulator(log_requests=True)
    with caplog.at_level(logging.INFO, logger="disparo.simulator"):
        await sim.send(1, "oi")
        await sim.send(1, "<b>", parse_mode="HTML")
    assert caplog.records
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert token.split(":")[0] in text
    assert token not in text
    assert token.split(":")[1] not in text


async def test_get_me_can_answer_for_another_bot_or_a_user(sim, token):
    """getMe answers the token's own bot until POST me puts other fields over it; {} restores."""
    bot_id = int(token.split(":")[0])
    status, body = await sim.call("getMe")
    own = body["result"]
    assert (status, own["id"], own["is_bot"], own["can_join_groups"]) == (200, bot_id, True, True)
    other = await sim.control(f"bots/{token}/me", {"id": 42, "username": "other_bot"})
    assert (other["id"], other["is_bot"], other["username"]) == (42, True, "other_bot")
    assert (await sim.call("getMe"))[1]["result"] == other
    await sim.control(f"bots/{token}/me", {"is_bot": False, "first_name": "Ana"})
    user = (await sim.call("getMe"))[1]["result"]
    assert (user["id"], user["is_bot"], user["first_name"]) == (bot_id, False, "Ana")
    assert "can_join_groups" not in user  # a user has none of the bot-only fields
    assert await sim.control(f"bots/{token}/me", {}) == own
    for body, says in (({"id": "42"}, "id must be of type int"), ({"token": 1}, "some of id")):
        async with sim.session.post(f"{sim.base_url}/sim/bots/{token}/me", json=body) as answer:
            assert answer.status == 400
            assert says in (await answer.json())["description"]
