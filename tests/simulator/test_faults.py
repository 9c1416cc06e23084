"""Injected faults (5xx share, dropped connections, slow answers) and latency."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import pytest

from disparo.simulator.faults import Latency


async def test_5xx_share_answers_500_or_502(sim, token):
    """With error_5xx=0.5 about half the calls fail with 500 (JSON) or 502 (nginx HTML)."""
    await sim.control("faults", {"error_5xx": 0.5})
    statuses: dict[int, int] = {}
    for _ in range(200):
        async with sim.session.post(f"{sim.base_url}/bot{token}/getMe") as response:
            statuses[response.status] = statuses.get(response.status, 0) + 1
            body = await response.read()
            if response.status == 500:
                assert body == (
                    b'{"ok":false,"error_code":500,"description":"Internal Server Error"}'
                )
            elif response.status == 502:
                assert b"502 Bad Gateway" in body
    assert set(statuses) == {200, 500, 502}
    failures = statuses[500] + statuses[502]
    assert 60 <= failures <= 140
    stats = (await sim.control("stats", method="GET"))["bots"][token.split(":")[0]]
    assert stats["5xx"] == failures


async def test_5xx_is_not_delivered(sim):
    """A request answered 5xx never reached Telegram: nothing is delivered."""
    await sim.control("faults", {"error_5xx": 1.0})
    status, _ = await sim.send(1)
    assert status in (500, 502)
    assert await sim.messages(1) == []


async def test_drop_closes_the_connection_without_answering(sim, token):
    """With drop=1 the connection closes and the client sees a disconnect; nothing delivered."""
    await sim.control("faults", {"drop": 1.0})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await sim.send(1)
    await sim.control("faults", {})
    assert (await sim.send(2))[0] == 200
    stats = (await sim.control("stats", method="GET"))["bots"][token.split(":")[0]]
    assert stats["dropped"] == 1
    assert await sim.messages(1) == []


async def test_drop_after_delivery_delivers_but_never_answers(sim):
    """With drop_delivered=1 the message is delivered, then the connection closes unanswered."""
    await sim.control("faults", {"drop_delivered": 1.0})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await sim.send(1, "entregue")
    assert [m["text"] for m in await sim.messages(1)] == ["entregue"]


async def test_slow_answer_outlasts_the_client_timeout_but_delivers(sim, token):
    """A slow answer times the client out, yet the message was delivered (unknown outcome)."""
    await sim.control("faults", {"slow": 1.0, "slow_s": 0.5})
    timeout = aiohttp.ClientTimeout(total=0.1)
    with pytest.raises(asyncio.TimeoutError):
        await sim.session.post(
            f"{sim.base_url}/bot{token}/sendMessage",
            json={"chat_id": 1, "text": "lento"},
            timeout=timeout,
        )
    delivered = await sim.messages(1)
    assert [m["text"] for m in delivered] == ["lento"]


async def test_faults_are_validated_and_cleared(sim):
    """Shares outside 0..1 are refused with the field named; {} clears every fault."""
    async with sim.session.post(f"{sim.base_url}/sim/faults", json={"drop": 2}) as response:
        assert response.status == 400
        assert "drop" in (await response.json())["description"]
    current = await sim.control("faults", {"error_5xx": 0.1, "latency_ms": 25})
    assert current["error_5xx"] == 0.1
    assert current["latency_ms"] == 25
    cleared = await sim.control("faults", {})
    assert cleared["error_5xx"] == 0
    assert cleared["retry_after_storm"] is None
    assert cleared["latency_ms"] == 25  # latency changes only when given


async def test_latency_delays_the_answer_without_blocking_others(start_simulator, token):
    """With latency, concurrent requests are answered together, not one after another."""
    sim = await start_simulator(latency_ms=200, latency_jitter_ms=0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await asyncio.gather(*(sim.call("getMe") for _ in range(20)))
    elapsed = loop.time() - started
    assert all(status == 200 for status, _ in results)
    # 20 requests of 200 ms each would take 4 s if the delay blocked the loop
    assert 0.2 <= elapsed < 2.0


def test_latency_distribution_has_the_configured_mean():
    """The lognormal latency averages its mean with the configured spread."""
    latency = Latency(40.0, 10.0)
    rng = random.Random(3)
    samples = [latency.sample_s(rng) for _ in range(5000)]
    mean = sum(samples) / len(samples)
    assert 0.038 <= mean <= 0.042
    assert min(samples) > 0
    assert Latency(0.0, 10.0).sample_s(rng) == 0.0
    assert Latency(40.0, 0.0).sample_s(rng) == 0.04


async def test_ignore_poll_timeout_answers_get_updates_at_once(sim, token):
    """With ignore_poll_timeout a long poll answers at once, empty or not; {} restores waiting."""
    assert (await sim.control("faults", {"ignore_poll_timeout": True}))["ignore_poll_timeout"]
    status, body = await asyncio.wait_for(sim.call("getUpdates", json={"timeout": 30}), 5)
    assert (status, body["result"]) == (200, [])
    await sim.control(f"bots/{token}/updates", {"start": [3]})
    status, body = await asyncio.wait_for(sim.call("getUpdates", json={"timeout": 30}), 5)
    assert [u["message"]["chat"]["id"] for u in body["result"]] == [3]
    assert not (await sim.control("faults", {}))["ignore_poll_timeout"]
    waiting = asyncio.create_task(sim.call("getUpdates", json={"offset": 2, "timeout": 30}))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await sim.control(f"bots/{token}/updates", {"start": [4]})
    await asyncio.wait_for(waiting, 5)
    stats = (await sim.control("stats", method="GET"))["bots"][token.split(":")[0]]
    assert stats["get_updates"] == 3
    async with sim.session.post(
        f"{sim.base_url}/sim/faults", json={"ignore_poll_timeout": "yes"}
    ) as response:
        assert response.status == 400
        assert "ignore_poll_timeout must be true or false" in (await response.json())["description"]
