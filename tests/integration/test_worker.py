"""The worker against the real simulator over HTTP: delivery, pruning, media, content errors."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest
from prometheus_client import REGISTRY, generate_latest
from worker_support import (
    Sim,
    StartWorker,
    add_bot,
    add_contacts,
    add_shot,
    contact_states,
    deliveries,
    statuses,
    wait_for_status,
    wait_until,
)

from disparo.db.engine import Database
from disparo.logs import JSONFormatter, TextFormatter
from disparo.telegram.redact import TokenRedactingFilter


async def test_every_recipient_gets_the_shot_once(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """A due shot is claimed, sent to each audience member once, and finished as sent."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 61))
    shot_id = await add_shot(db, "loja", wake=True)
    await start_worker()
    row = await wait_for_status(db, shot_id)
    assert row["status"] == "sent"
    assert row["audience_total"] == 60
    assert row["attempt_count"] == 1
    assert row["locked_by"] is None
    assert row["finished_at"] is not None
    rows = await deliveries(db, shot_id)
    assert statuses(rows) == {"sent": 60}
    assert all(r["message_id"] and r["sent_at"] and r["attempts"] == 1 for r in rows)
    stats = await sim.stats(token)
    assert stats["delivered"] == 60
    assert stats["duplicates"]["count"] == 0
    assert stats["429"] == 0


async def test_blocked_and_deactivated_users_are_pruned(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """403 blocked/deactivated skip the recipient and update the contact; unknown chats skip."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 11))
    await sim.users(token, {3: "blocked", 4: "deactivated", 5: "missing"})
    shot_id = await add_shot(db, "loja", wake=True)
    await start_worker()
    row = await wait_for_status(db, shot_id)
    assert row["status"] == "sent"
    by_id = {r["telegram_id"]: r for r in await deliveries(db, shot_id)}
    assert (by_id[3]["status"], by_id[3]["reason"]) == ("skipped", "blocked")
    assert (by_id[4]["status"], by_id[4]["reason"]) == ("skipped", "deactivated")
    assert (by_id[5]["status"], by_id[5]["reason"]) == ("skipped", "chat_not_found")
    assert "blocked" in by_id[3]["error"]
    assert Counter(r["status"] for r in by_id.values()) == {"sent": 7, "skipped": 3}
    states = await contact_states(db, "loja")
    assert (states[3], states[4], states[5], states[6]) == (
        "blocked",
        "deactivated",
        "active",
        "active",
    )


BUTTONS = [[{"text": "Comprar", "url": "https://example.com/buy"}]]
MARKUP = {"inline_keyboard": [[{"text": "Comprar", "url": "https://example.com/buy"}]]}


async def test_each_media_type_uses_its_methods(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """photo/video carry the copy as caption; audio sends the copy after it; none is text."""
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", [1, 2])
    await sim.limits(token, per_chat_burst=10)  # four shots to one chat within a second
    url = "https://cdn.example.com/file"
    shots = {
        kind: await add_shot(
            db,
            "loja",
            media_type=kind,
            media_url=None if kind == "none" else f"{url}.{kind}",
            copy=f"<b>{kind}</b> hoje",
            buttons=BUTTONS,
        )
        for kind in ("photo", "video", "audio", "none")
    }
    await start_worker()
    for shot_id in shots.values():
        assert (await wait_for_status(db, shot_id))["status"] == "sent"
    messages = await sim.messages(token, chat_id=1)
    assert [m["method"] for m in messages] == [
        "sendPhoto",
        "sendVideo",
        "sendAudio",
        "sendMessage",
        "sendMessage",
    ]
    photo, video, audio, audio_copy, text = messages
    assert (photo["caption"], photo["media"]["source"]) == ("photo hoje", f"{url}.photo")
    assert (video["caption"], video["media"]["type"]) == ("video hoje", "video")
    assert (audio["caption"], audio["media"]["type"], audio["reply_markup"]) == (
        None,
        "audio",
        None,
    )
    assert (audio_copy["text"], audio_copy["reply_markup"]) == ("audio hoje", MARKUP)
    assert (text["text"], text["reply_markup"]) == ("none hoje", MARKUP)
    assert photo["reply_markup"] == MARKUP
    assert all(m["allow_paid_broadcast"] for m in messages)  # the test bot pays for broadcasts
    # The audio shot records the message that carries the copy, and two requests.
    audio_rows = await deliveries(db, shots["audio"])
    assert [r["message_id"] for r in audio_rows if r["telegram_id"] == 1] == [
        audio_copy["message_id"]
    ]
    assert {r["attempts"] for r in audio_rows} == {2}


async def test_bad_html_stops_the_shot_early(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """A content error stops the shot with a clear last_error, not one failure per recipient."""
    token = await add_bot(db, "loja", rate_per_s=30, paid_broadcast=False)
    await add_contacts(db, "loja", range(1, 201))
    shot_id = await add_shot(db, "loja", copy="<b>Oferta sem fechar", wake=True)
    await start_worker()
    row = await wait_for_status(db, shot_id)
    assert row["status"] == "error"
    assert "can't parse entities" in row["last_error"]
    assert "fix the HTML" in row["last_error"]
    counts = statuses(await deliveries(db, shot_id))
    stats = await sim.stats(token)
    assert stats["requests"] <= 10  # stopped after the first answers, not 200 refusals
    assert counts["error"] == stats["requests"]
    assert counts["pending"] == 200 - stats["requests"]  # never attempted: kept pending


async def test_bad_media_url_stops_the_shot_early(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """A media URL Telegram cannot fetch stops the shot and says to check media_url."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 51))
    shot_id = await add_shot(
        db, "loja", media_type="photo", media_url="https://cdn.invalid/x.jpg", wake=True
    )
    await start_worker()
    row = await wait_for_status(db, shot_id)
    assert row["status"] == "error"
    assert "media_url" in row["last_error"]
    counts = statuses(await deliveries(db, shot_id))
    assert counts.get("sent", 0) == 0
    assert counts["error"] + counts.get("pending", 0) == 50, counts


async def test_revoked_token_stops_every_shot_of_the_bot(
    db: Database, sim: Sim, start_worker: StartWorker, caplog: pytest.LogCaptureFixture
) -> None:
    """401 ends the running shot and the bot's other unfinished shots with a clear error; the
    end's log line gives the counts the stored deliveries (and so the API) give."""
    caplog.set_level(logging.INFO, logger="disparo.engine")
    token = await add_bot(db, "loja", rate_per_s=10)  # the 401 comes back before the 2nd send
    await add_contacts(db, "loja", range(1, 21))
    await sim.control(f"bots/{token}/revoke", {"revoked": True})
    first = await add_shot(db, "loja")
    later = await add_shot(db, "loja")
    await start_worker()
    for shot_id in (first, later):
        row = await wait_for_status(db, shot_id)
        assert row["status"] == "error"
        assert "401" in row["last_error"]
        assert "token" in row["last_error"]
    stored = statuses(await deliveries(db, first))
    assert stored.get("pending", 0) > 0  # stopped at the first answer: the rest waits

    def ends() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.getMessage() == "[SHOTS][WORKER] job completed" and r.shot_id == first  # type: ignore[attr-defined]
        ]

    async def logged_end() -> bool:  # the line follows the commit that ended the shot
        return bool(ends())

    await wait_until(logged_end, timeout_s=5, what="the shot's end log line")
    (ended,) = ends()
    logged = {
        key: getattr(ended, key) for key in ("sent", "skipped", "errors", "unknown", "pending")
    }
    assert logged == {
        "sent": stored.get("sent", 0),
        "skipped": stored.get("skipped", 0),
        "errors": stored.get("error", 0),
        "unknown": stored.get("unknown", 0),
        "pending": stored.get("pending", 0),
    }


async def test_log_events_and_metrics_carry_counts_and_no_token(
    db: Database, sim: Sim, start_worker: StartWorker, caplog: pytest.LogCaptureFixture
) -> None:
    """The spec's log events carry their fields, metrics count outcomes; no token anywhere."""
    caplog.set_level(logging.DEBUG)
    slug = f"telemetria_{db.url.get_backend_name()}"  # metrics are per process: one bot each
    token = await add_bot(db, slug)
    await add_contacts(db, slug, range(1, 31))
    await sim.users(token, {5: "blocked"})
    shot_id = await add_shot(db, slug, wake=True)
    await start_worker()
    await wait_for_status(db, shot_id)
    await asyncio.sleep(0.3)  # let a tick or two log
    by_message: dict[str, list[logging.LogRecord]] = {}
    for record in caplog.records:
        by_message.setdefault(record.getMessage(), []).append(record)
    (audience,) = by_message["[SHOTS][AUDIENCE] audience selected"]
    assert (audience.bot_slug, audience.target, audience.count) == (slug, "started", 30)
    assert by_message["[SHOTS][WORKER] processing batch"]
    batches = by_message["[SHOTS][WORKER] batch completed"]
    assert sum(r.sent for r in batches) == 29
    assert sum(r.skipped for r in batches) == 1
    (done,) = by_message["[SHOTS][WORKER] job completed"]
    assert (done.sent, done.skipped, done.total, done.outcome) == (29, 1, 30, "done")
    tick = by_message["[SHOTS][WORKER][TICK]"][0]
    assert tick.levelno == logging.DEBUG
    secret = token.partition(":")[2]
    engine_records = [r for r in caplog.records if r.name.startswith("disparo")]
    assert not [r for r in engine_records if secret in JSONFormatter().format(r)]
    # Libraries log statement parameters at DEBUG (aiosqlite): the production filter masks them.
    redacting = TokenRedactingFilter()
    lines = [
        formatter.format(r)
        for r in caplog.records
        if redacting.filter(r)
        for formatter in (TextFormatter(), JSONFormatter())
    ]
    assert not [line for line in lines if secret in line]
    exposition = generate_latest(REGISTRY).decode()
    assert f'disparo_messages_total{{bot_slug="{slug}",outcome="sent"}} 29.0' in exposition
    assert f'disparo_messages_total{{bot_slug="{slug}",outcome="skipped"}} 1.0' in exposition
    assert "disparo_due_shots" in exposition
    assert secret not in exposition
