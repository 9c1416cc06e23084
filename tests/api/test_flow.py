"""End to end over real sockets: register a bot, users /start through the webhook, a shot is
created, the engine (in the API's lifespan, as `disparo serve`) sends it, stats show it."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from api_support import TOKEN, BuildApp, Client, Serve

from disparo.config import Settings
from disparo.db.engine import Database
from disparo.services import engine_background

USERS = list(range(101, 121))


async def wait_until(api: Client, path: str, done: Any, timeout_s: float = 15.0) -> Any:
    """GET `path` until `done(body)`; the last body."""
    body: Any = None
    for _ in range(int(timeout_s / 0.05)):
        body = (await api.get(path)).body
        if done(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never got there: {body}")


async def test_a_shot_from_start_to_finish(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, settings: Settings
) -> None:
    """20 users start the bot, one blocks it unseen; the shot reaches 19 once each, skips 1."""
    api = await serve(build_app(background=[engine_background(settings, db)]))
    assert (await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})).status == 201
    assert (await api.post("/admin/api/bots/loja/webhook")).status == 200
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": u} for u in USERS], token=None)
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"start": USERS}, token=None)
    await wait_until(api, "/admin/api/bots/loja/metrics", lambda m: m["active"] == len(USERS))
    # The last user blocks the bot while Disparo is not told (no update): the send finds out.
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": USERS[-1], "state": "blocked"}], token=None)
    estimate = await api.get("/admin/api/audience/estimate?bot_slug=loja&target=started")
    assert estimate.body["count"] == len(USERS)

    created = await api.post(
        "/admin/api/shots",
        {"bot_slug": "loja", "target": "started", "copy": "<b>Oferta</b> só hoje"},
    )
    assert created.status == 201
    shot_id = created.body["id"]
    stats = await wait_until(
        api,
        f"/admin/api/shots/{shot_id}/stats",
        lambda s: s["status"] not in ("pending", "running"),
    )
    assert stats["status"] == "sent", stats
    assert (stats["total"], stats["sent"], stats["skipped"]) == (20, 19, 1)
    assert (stats["error"], stats["unknown"], stats["progress"]) == (0, 0, 1.0)
    assert stats["by_reason"] == {"blocked": 1}
    assert sum(p["sent"] for p in stats["timeline"]) == 19

    messages = (await sim.get(f"/sim/bots/{TOKEN}/messages", token=None)).body["result"]
    recipients = [m["chat_id"] if "chat_id" in m else m["chat"]["id"] for m in messages]
    assert sorted(recipients) == USERS[:-1]  # each once, the blocked one never

    exported = await api.get(f"/admin/api/shots/{shot_id}/deliveries.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 20
    assert {r["status"] for r in rows} == {"sent", "skipped"}
    metrics = (await api.get("/admin/api/bots/loja/metrics")).body
    assert (metrics["active"], metrics["blocked"], metrics["change_24h"]["blocked"]) == (19, 1, 1)
    listed = (await api.get("/admin/api/shots?bot_slug=loja")).body["items"]
    assert listed[0]["stats"]["sent"] == 19
