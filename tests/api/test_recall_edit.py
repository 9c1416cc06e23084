"""Recall and edit from the API: refused before anything is sent when they cannot work (a shot
still sending, nothing delivered, a job already on, an edit Telegram would refuse), and end to
end through the engine and the simulator with per-recipient outcomes, CSV, pause and cancel."""

from __future__ import annotations

import csv
import io
from typing import Any

from api_support import TOKEN, BuildApp, Client, Serve
from test_flow import wait_until

from disparo.config import Settings
from disparo.db.engine import Database
from disparo.services import engine_background

USERS = [201, 202, 203, 204]
SHOTS = "/admin/api/shots"


async def _sent(api: Client, sim: Client, **fields: Any) -> int:
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": u} for u in USERS], token=None)
    await sim.post(f"/sim/bots/{TOKEN}/updates", {"start": USERS}, token=None)
    await wait_until(api, "/admin/api/bots/loja/metrics", lambda m: m["active"] == len(USERS))
    body = {"bot_slug": "loja", "target": "started", "copy": "Preço: R$ 59,90", **fields}
    created = await api.post(SHOTS, body)
    assert created.status == 201, created.body
    shot_id: int = created.body["id"]
    await wait_until(api, f"{SHOTS}/{shot_id}/stats", lambda s: s["status"] == "sent")
    return shot_id


async def _stack(build_app: BuildApp, serve: Serve, db: Database, settings: Settings) -> Client:
    api = await serve(build_app(background=[engine_background(settings, db)]))
    assert (await api.post("/admin/api/bots", {"slug": "loja", "token": TOKEN})).status == 201
    assert (await api.post("/admin/api/bots/loja/webhook")).status == 200
    return api


async def test_recall_end_to_end_with_outcomes_and_csv(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, settings: Settings
) -> None:
    api = await _stack(build_app, serve, db, settings)
    shot_id = await _sent(api, sim)
    started = await api.post(f"{SHOTS}/{shot_id}/recall")
    assert started.status == 201, started.body
    assert (started.body["kind"], started.body["shot_id"]) == ("recall", shot_id)
    again = await api.post(f"{SHOTS}/{shot_id}/recall")
    assert again.status in (201, 409)  # the first may have ended already: then a second is fine
    job_id = started.body["id"]
    job = await wait_until(api, f"/admin/api/jobs/{job_id}", lambda j: j["status"] == "done")
    assert (job["total"], job["by_outcome"], job["progress"]) == (4, {"deleted": 4}, 1.0)
    listed = (await api.get(f"{SHOTS}/{shot_id}/jobs")).body
    assert listed[-1]["id"] == job_id
    items = (await api.get(f"/admin/api/jobs/{job_id}/items?limit=2")).body
    rest = (await api.get(f"/admin/api/jobs/{job_id}/items?after={items['next_after']}")).body
    pages = items["items"] + rest["items"]
    assert sorted(i["telegram_id"] for i in pages) == USERS
    assert [i["seq"] for i in pages] == sorted(i["seq"] for i in pages)  # in send order
    assert rest["next_after"] is None
    exported = await api.get(f"/admin/api/jobs/{job_id}/items.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(int(r["telegram_id"]), r["outcome"]) for r in rows} == {(u, "deleted") for u in USERS}
    messages = (await sim.get(f"/sim/bots/{TOKEN}/messages", token=None)).body["result"]
    assert all(m["deleted"] for m in messages)


async def test_edit_end_to_end_and_what_is_refused_before_sending(
    build_app: BuildApp, serve: Serve, sim: Client, db: Database, settings: Settings
) -> None:
    api = await _stack(build_app, serve, db, settings)
    shot_id = await _sent(api, sim, media_type="photo", media_url="https://cdn.example/p.jpg")
    refused = {
        "x" * 1100: "1024",  # a photo's caption
        "<b>aberto": "HTML",
    }
    for copy, words in refused.items():
        answer = await api.post(f"{SHOTS}/{shot_id}/edit", {"copy": copy})
        assert answer.status == 422, answer.body
        assert words in answer.body["error"]["message"]
    empty = await api.post(f"{SHOTS}/{shot_id}/edit", {})
    assert (empty.status, empty.body["error"]["field"]) == (422, "copy")
    edited = await api.post(f"{SHOTS}/{shot_id}/edit", {"copy": "Preço: <b>R$ 49,90</b>"})
    assert edited.status == 201, edited.body
    job_id = edited.body["id"]
    job = await wait_until(api, f"/admin/api/jobs/{job_id}", lambda j: j["status"] == "done")
    assert job["by_outcome"] == {"edited": 4}
    assert (await api.get(f"{SHOTS}/{shot_id}")).body["copy"] == "Preço: <b>R$ 49,90</b>"
    messages = (await sim.get(f"/sim/bots/{TOKEN}/messages", token=None)).body["result"]
    assert {m["caption"] for m in messages} == {"Preço: R$ 49,90"}
    assert (await api.post(f"/admin/api/jobs/{job_id}/pause")).status == 409
    tags = {"copy": "Seus interesses: {tags}"}  # nothing bounds a contact's tags
    risky = await api.post(f"{SHOTS}/{shot_id}/edit", tags)
    assert (risky.status, risky.body["error"]["field"]) == (422, "copy")
    accepted = await api.post(f"{SHOTS}/{shot_id}/edit", {**tags, "accept_too_long": True})
    assert accepted.status == 201, accepted.body


async def test_what_cannot_be_recalled(api: Client, bot: dict[str, Any]) -> None:
    """A pending shot (cancel it first), a shot that delivered nothing, an unknown shot."""
    created = await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "Oi",
                                     "scheduled_at": "2099-01-01T00:00:00Z"})  # fmt: skip
    shot_id = created.body["id"]
    pending = await api.post(f"{SHOTS}/{shot_id}/recall")
    assert pending.status == 409
    assert "cancel it first" in pending.body["error"]["message"]
    assert (await api.post(f"{SHOTS}/{shot_id}/cancel")).status == 200
    nothing = await api.post(f"{SHOTS}/{shot_id}/recall")
    assert nothing.status == 409
    assert "delivered no message" in nothing.body["error"]["message"]
    assert (await api.post(f"{SHOTS}/999999/recall")).status == 404
    assert (await api.get("/admin/api/jobs/999999")).status == 404
    assert (await api.post("/admin/api/jobs/1/explode")).status in (404, 422)
