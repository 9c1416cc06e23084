"""Stats, per-recipient deliveries (JSON pages and CSV), audience estimate and the test send."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import TOKEN, Client
from sqlalchemy import insert, update

from disparo.db.engine import Database
from disparo.db.tables import (
    funnel_events,
    payment_transactions,
    shots_queue,
    shots_sent,
    telegram_contacts,
)

SHOTS = "/admin/api/shots"


async def make_shot(api: Client, **fields: Any) -> dict[str, Any]:
    """A pending shot of bot `loja`."""
    body = {"bot_slug": "loja", "target": "started", "copy": "<b>Promo</b>", **fields}
    answer = await api.post(SHOTS, body)
    assert answer.status == 201, answer.body
    shot: dict[str, Any] = answer.body
    return shot


async def run_shot(
    db: Database, shot_id: int, outcomes: list[tuple[str, str | None, float]], total: int
) -> datetime:
    """Make the shot running since a minute ago, with deliveries (status, reason, age in s)."""
    now = datetime.now(UTC)
    started = now - timedelta(seconds=60)
    rows = [
        {
            "shot_id": shot_id,
            "bot_slug": "loja",
            "telegram_id": 1000 + seq,
            "seq": seq,
            "status": status,
            "reason": reason,
            "error": "Forbidden: bot was blocked by the user" if reason == "blocked" else None,
            "message_id": 500 + seq if status == "sent" else None,
            "sent_at": now - timedelta(seconds=age) if status == "sent" else None,
            "updated_at": now - timedelta(seconds=age) if status != "pending" else None,
        }
        for seq, (status, reason, age) in enumerate(outcomes)
    ]
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue)
            .where(shots_queue.c.id == shot_id)
            .values(status="running", started_at=started, audience_total=total)
        )
        await conn.execute(insert(shots_sent), rows)
    return started


async def test_stats_of_a_running_shot(api: Client, bot: dict[str, Any], db: Database) -> None:
    """Counts by status and reason, rate over the last 10 s, ETA, and a filled timeline."""
    shot = await make_shot(api)
    outcomes: list[tuple[str, str | None, float]] = [
        *[("sent", None, 2.0)] * 6,
        *[("sent", None, 40.0)] * 4,
        ("skipped", "blocked", 3.0),
        ("skipped", "deactivated", 30.0),
        ("skipped", "chat_not_found", 30.0),
        ("error", "bad_request", 5.0),
        ("unknown", "timeout", 50.0),
        ("sending", None, 0.5),
        *[("pending", None, 0.0)] * 4,
    ]
    await run_shot(db, shot["id"], outcomes, total=len(outcomes))
    answer = await api.get(f"{SHOTS}/{shot['id']}/stats")
    assert answer.status == 200, answer.body
    stats = answer.body
    assert stats["shot_id"] == shot["id"]
    assert stats["status"] == "running"
    counts = {k: stats[k] for k in ("total", "pending", "sending", "sent", "skipped", "error")}
    assert counts == {
        "total": 20,
        "pending": 4,
        "sending": 1,
        "sent": 10,
        "skipped": 3,
        "error": 1,
    }
    assert stats["unknown"] == 1
    assert stats["progress"] == 15 / 20
    assert stats["by_reason"] == {
        "blocked": 1,
        "deactivated": 1,
        "chat_not_found": 1,
        "bad_request": 1,
        "timeout": 1,
    }
    assert stats["rate_per_s"] == 0.8  # 8 outcomes in the last 10 s
    assert stats["eta_s"] == 6.2  # 5 left at 0.8/s
    assert stats["bucket_s"] == 1
    timeline = stats["timeline"]
    assert 60 <= len(timeline) <= 62
    assert sum(p["sent"] for p in timeline) == 10
    assert sum(p["skipped"] + p["error"] + p["unknown"] for p in timeline) == 5
    first = datetime.fromisoformat(timeline[0]["t"])
    assert datetime.fromisoformat(timeline[1]["t"]) - first == timedelta(seconds=1)


async def test_stats_of_a_pending_and_a_finished_shot(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A pending shot has nothing yet; a finished one has no rate or ETA, progress 1."""
    shot = await make_shot(api)
    pending = (await api.get(f"{SHOTS}/{shot['id']}/stats")).body
    assert (pending["total"], pending["progress"], pending["eta_s"]) == (0, 0.0, None)
    assert pending["timeline"] == []
    await run_shot(db, shot["id"], [("sent", None, 5.0), ("skipped", "blocked", 4.0)], total=2)
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue)
            .where(shots_queue.c.id == shot["id"])
            .values(status="sent", finished_at=datetime.now(UTC))
        )
    done = (await api.get(f"{SHOTS}/{shot['id']}/stats")).body
    assert (done["status"], done["progress"], done["rate_per_s"], done["eta_s"]) == (
        "sent",
        1.0,
        0.0,
        None,
    )
    assert done["finished_at"] is not None
    listed = (await api.get(f"{SHOTS}?bot_slug=loja")).body["items"][0]
    assert listed["stats"]["sent"] == 1
    assert listed["stats"]["progress"] == 1.0
    assert (await api.get(f"{SHOTS}/999/stats")).status == 404


async def test_deliveries_pages_and_filter(api: Client, bot: dict[str, Any], db: Database) -> None:
    """Deliveries come in send order, page by page, optionally filtered by status."""
    shot = await make_shot(api)
    outcomes: list[tuple[str, str | None, float]] = [
        ("sent", None, 1.0),
        ("skipped", "blocked", 1.0),
        ("sent", None, 1.0),
        ("pending", None, 0.0),
        ("sent", None, 1.0),
    ]
    await run_shot(db, shot["id"], outcomes, total=5)
    base = f"{SHOTS}/{shot['id']}/deliveries"
    first = (await api.get(f"{base}?limit=2")).body
    assert [d["telegram_id"] for d in first["items"]] == [1000, 1001]
    assert first["items"][0] == {
        "telegram_id": 1000,
        "status": "sent",
        "reason": None,
        "error": None,
        "message_id": 500,
        "sent_at": first["items"][0]["sent_at"],
        "updated_at": first["items"][0]["updated_at"],
    }
    assert first["items"][1]["reason"] == "blocked"
    assert "blocked" in first["items"][1]["error"]
    rest = (await api.get(f"{base}?limit=2&cursor={first['next_cursor']}")).body
    last = (await api.get(f"{base}?limit=2&cursor={rest['next_cursor']}")).body
    assert [d["telegram_id"] for d in rest["items"] + last["items"]] == [1002, 1003, 1004]
    assert last["next_cursor"] is None
    sent = (await api.get(f"{base}?status=sent")).body
    assert [d["telegram_id"] for d in sent["items"]] == [1000, 1002, 1004]
    bad = await api.get(f"{base}?status=maybe")
    assert (bad.status, bad.body["error"]["field"]) == (422, "status")
    assert (await api.get(f"{base}?cursor=x")).status == 422
    assert (await api.get(f"{SHOTS}/999/deliveries")).status == 404


async def test_deliveries_csv_export(api: Client, bot: dict[str, Any], db: Database) -> None:
    """The CSV has a header and one line per delivery, in send order."""
    shot = await make_shot(api)
    await run_shot(db, shot["id"], [("sent", None, 1.0), ("skipped", "blocked", 1.0)], total=2)
    answer = await api.get(f"{SHOTS}/{shot['id']}/deliveries.csv")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["telegram_id"], r["status"], r["reason"]) for r in rows] == [
        ("1000", "sent", ""),
        ("1001", "skipped", "blocked"),
    ]
    assert rows[0]["message_id"] == "500"
    assert (await api.get(f"{SHOTS}/999/deliveries.csv")).status == 404


async def test_audience_estimate(api: Client, bot: dict[str, Any], db: Database) -> None:
    """The estimate counts reachable contacts of the target, within the recency."""
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(
            insert(telegram_contacts),
            [
                {"bot_slug": "loja", "telegram_id": 1, "chat_state": "active",
                 "last_interaction_at": now - timedelta(days=1)},
                {"bot_slug": "loja", "telegram_id": 2, "chat_state": "active",
                 "last_interaction_at": now - timedelta(days=30)},
                {"bot_slug": "loja", "telegram_id": 3, "chat_state": "blocked",
                 "last_interaction_at": now},
            ],
        )  # fmt: skip
        await conn.execute(
            insert(funnel_events),
            [{"bot_slug": "loja", "telegram_id": 1, "event": "pix_created", "occurred_at": now}],
        )
        await conn.execute(
            insert(payment_transactions),
            [{"bot_slug": "loja", "telegram_id": 2, "external_id": "p2", "status": "paid",
              "amount_cents": 100}],
        )  # fmt: skip
    base = "/admin/api/audience/estimate?bot_slug=loja"
    started = (await api.get(f"{base}&target=started")).body
    assert started == {"bot_slug": "loja", "target": "started", "recency_days": None, "count": 2}
    assert (await api.get(f"{base}&target=started&recency_days=7")).body["count"] == 1
    assert (await api.get(f"{base}&target=pix_created")).body["count"] == 2
    assert (await api.get(f"{base}&target=pix_created&recency_days=7")).body["count"] == 1
    bad = await api.get(f"{base}&target=all")
    assert (bad.status, bad.body["error"]["field"]) == (422, "target")
    missing = await api.get("/admin/api/audience/estimate?bot_slug=nobody&target=started")
    assert missing.status == 404


async def test_test_send_delivers_the_content_to_one_chat(
    api: Client, sim: Client, bot: dict[str, Any], db: Database
) -> None:
    """The preview reaches the chat through Telegram with the shot's buttons; no delivery row."""
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 42, "state": "active"}], token=None)
    buttons = [[{"text": "Pagar", "url": "https://example.com/pix"}]]
    shot = await make_shot(api, buttons=buttons)
    answer = await api.post(f"{SHOTS}/{shot['id']}/test", {"telegram_id": 42})
    assert answer.status == 200, answer.body
    assert answer.body["shot_id"] == shot["id"]
    [message] = answer.body["messages"]
    assert message["chat"]["id"] == 42
    assert isinstance(message["message_id"], int)
    delivered = (await sim.get(f"/sim/bots/{TOKEN}/messages?chat_id=42", token=None)).body
    assert len(delivered["result"]) == 1
    assert "Promo" in str(delivered["result"][0])
    stats = (await api.get(f"{SHOTS}/{shot['id']}/stats")).body
    assert stats["total"] == 0


async def test_test_send_of_an_audio_shot_sends_two_messages(
    api: Client, sim: Client, bot: dict[str, Any]
) -> None:
    """An audio shot is the audio, then the copy as its own message carrying the buttons,
    as the worker sends it (one definition: domain/sending.py)."""
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 42, "state": "active"}], token=None)
    buttons = [[{"text": "Pagar", "url": "https://example.com/pix"}]]
    shot = await make_shot(
        api, media_type="audio", media_url="https://example.com/a.mp3", buttons=buttons
    )
    answer = await api.post(f"{SHOTS}/{shot['id']}/test", {"telegram_id": 42})
    assert answer.status == 200, answer.body
    assert len(answer.body["messages"]) == 2
    delivered = (await sim.get(f"/sim/bots/{TOKEN}/messages?chat_id=42", token=None)).body
    audio, text = delivered["result"]
    assert (audio["method"], audio["reply_markup"]) == ("sendAudio", None)
    assert text["method"] == "sendMessage"
    assert text["reply_markup"] == {"inline_keyboard": buttons}


async def test_test_send_reports_telegram_refusals(
    api: Client, sim: Client, bot: dict[str, Any]
) -> None:
    """A blocked chat comes back as a telegram_error with Telegram's description."""
    await sim.post(f"/sim/bots/{TOKEN}/users", [{"id": 43, "state": "blocked"}], token=None)
    shot = await make_shot(api)
    answer = await api.post(f"{SHOTS}/{shot['id']}/test", {"telegram_id": 43})
    assert answer.status == 422
    assert answer.body["error"]["code"] == "telegram_error"
    assert "blocked" in answer.body["error"]["message"]
    assert TOKEN not in answer.text
    missing = await api.post(f"{SHOTS}/999/test", {"telegram_id": 43})
    assert missing.status == 404
    no_id = await api.post(f"{SHOTS}/{shot['id']}/test", {})
    assert (no_id.status, no_id.body["error"]["field"]) == (422, "telegram_id")
