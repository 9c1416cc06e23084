"""Recall and edit of a sent shot through the real worker and the simulator over HTTP: every
delivered message deleted or changed once, what Telegram refuses recorded per recipient, a
message past the 48 h window recorded too old without a call, and the job's own pause and
cancel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from worker_support import (
    Sim,
    StartWorker,
    add_bot,
    add_contacts,
    add_shot,
    wait_for_status,
    wait_until,
)

from disparo.db import job_items, jobs
from disparo.db.engine import Database
from disparo.db.tables import shots_queue, shots_sent
from disparo.db.tables_jobs import shot_job_items
from disparo.telegram import BotAPI

USERS = range(1, 31)
BUTTONS = [[{"text": "Comprar", "url": "https://loja.example/p"}]]
NEW_COPY = "<b>Preço certo</b>: R$ 49,90, {first_name|amigo}"


async def _sent(db: Database, start_worker: StartWorker, **shot: Any) -> tuple[str, int]:
    token = await add_bot(db, "loja")
    await add_contacts(db, "loja", USERS)
    shot_id = await add_shot(db, "loja", buttons=BUTTONS, wake=True, **shot)
    await start_worker()
    assert (await wait_for_status(db, shot_id))["status"] == "sent"
    return token, shot_id


async def _job(db: Database, shot_id: int, kind: str, **values: Any) -> int:
    """A job as the API makes it: an edit's content becomes the shot's first."""
    async with db.write(wake=True) as conn:
        if kind == "edit":
            await jobs.store_edit(
                conn, shot_id, copy=values.get("copy"), buttons=values.get("buttons"),
                change_buttons=values.get("change_buttons", False),
            )  # fmt: skip
        job = await jobs.insert_job(
            conn, now=datetime.now(UTC), shot_id=shot_id, bot_slug="loja", kind=kind, **values
        )
    return job.id


async def _ended(db: Database, job_id: int) -> Any:
    async def job() -> Any:
        async with db.read() as conn:
            return await jobs.get_job(conn, job_id)

    async def ended() -> bool:
        found = await job()
        return found is not None and found.status in ("done", "cancelled", "error")

    await wait_until(ended, what=f"job {job_id} ended")
    return await job()


async def _outcomes(db: Database, job_id: int) -> dict[int, tuple[str, str | None]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(shot_job_items.c.telegram_id, shot_job_items.c.outcome, shot_job_items.c.error)
            .where(shot_job_items.c.job_id == job_id)
        )  # fmt: skip
        return {tid: (outcome, error) for tid, outcome, error in rows}


async def test_a_recall_deletes_each_message_once_and_records_what_it_could_not(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    token, shot_id = await _sent(db, start_worker)
    by_chat = {m["chat_id"]: m for m in await sim.messages(token)}
    # Recipients 1–3 deleted their copy already; 4–5 got it 49 h ago (too old: not tried).
    async with BotAPI(sim.base_url, timeout_s=5.0) as api:
        for tid in (1, 2, 3):
            await api.bot(token).call(
                "deleteMessage", {"chat_id": tid, "message_id": by_chat[tid]["message_id"]}
            )
    async with db.write() as conn:
        old = datetime.now(UTC) - timedelta(hours=49)
        await conn.execute(
            update(shots_sent).where(shots_sent.c.telegram_id.in_([4, 5])).values(sent_at=old)
        )
    job_id = await _job(db, shot_id, "recall")
    job = await _ended(db, job_id)
    assert (job.status, job.total) == ("done", 30)
    outcomes = await _outcomes(db, job_id)
    assert {tid: o for tid, (o, _) in outcomes.items() if o != "deleted"} == {
        1: "gone", 2: "gone", 3: "gone", 4: "too_old", 5: "too_old",
    }  # fmt: skip
    assert outcomes[1][1] == "Bad Request: message to delete not found"
    after = {m["chat_id"]: m for m in await sim.messages(token)}
    assert {tid for tid, m in after.items() if m.get("deleted")} == set(USERS) - {4, 5}
    stats = await sim.stats(token)
    assert stats["deleted"] == 30 - 2  # 3 by the users' side, 25 by the recall, none twice


async def test_an_edit_changes_the_copy_and_keeps_the_buttons(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    token, shot_id = await _sent(db, start_worker)
    job_id = await _job(
        db, shot_id, "edit", copy="<b>Preço certo</b>: R$ 49,90, {first_name|amigo}"
    )
    job = await _ended(db, job_id)
    assert job.status == "done"
    assert {o for o, _ in (await _outcomes(db, job_id)).values()} == {"edited"}
    for message in await sim.messages(token):
        assert message["text"].startswith("Preço certo: R$ 49,90")
        assert message["edit_date"] >= message["date"]
        assert message["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://loja.example/p"
    again = await _job(db, shot_id, "edit", copy=NEW_COPY)
    await _ended(db, again)
    assert {o for o, _ in (await _outcomes(db, again)).values()} == {"unchanged"}


async def test_an_edit_of_the_buttons_only_and_of_a_photo_caption(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    token, shot_id = await _sent(
        db, start_worker, media_type="photo", media_url="https://cdn.example/a.jpg"
    )
    buttons = [[{"text": "Novo", "url": "https://loja.example/novo"}]]
    job_id = await _job(db, shot_id, "edit", buttons=buttons, change_buttons=True)
    assert (await _ended(db, job_id)).status == "done"
    for message in await sim.messages(token):
        assert message["reply_markup"]["inline_keyboard"][0][0]["text"] == "Novo"
    caption = await _job(db, shot_id, "edit", copy="Nova legenda")
    assert (await _ended(db, caption)).status == "done"
    for message in await sim.messages(token):
        assert message["caption"] == "Nova legenda"
        assert message["reply_markup"]["inline_keyboard"][0][0]["text"] == "Novo"


async def test_a_cancelled_job_skips_what_is_left(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    token, shot_id = await _sent(db, start_worker)
    async with db.write() as conn:  # paused from the start: no worker can claim it
        job = await jobs.insert_job(
            conn, now=datetime.now(UTC), shot_id=shot_id, bot_slug="loja", kind="recall",
            status="paused",
        )  # fmt: skip
    async with db.write() as conn:
        await jobs.set_job_status(
            conn, job.id, jobs.JobStatus.CANCELLED, (jobs.JobStatus.PAUSED,), datetime.now(UTC)
        )
        await job_items.cancel_idle_job(conn, job.id, datetime.now(UTC))
    ended = await _ended(db, job.id)
    assert ended.status == "cancelled"
    assert not [m for m in await sim.messages(token) if m.get("deleted")]


async def test_an_audio_shot_recall_deletes_both_messages(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    token, shot_id = await _sent(
        db, start_worker, media_type="audio", media_url="https://cdn.example/a.mp3"
    )
    async with db.read() as conn:
        rows = (await conn.execute(select(shots_sent.c.audio_message_id))).scalars().all()
    assert all(rows)
    job = await _ended(db, await _job(db, shot_id, "recall"))
    assert job.status == "done"
    messages = await sim.messages(token)
    assert len(messages) == 2 * len(USERS)
    assert all(m.get("deleted") for m in messages)


async def test_a_job_and_a_shot_of_one_bot_take_turns(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """A shot that falls due while its bot's recall runs starts once the recall has ended, so
    the two never share the bot's rate at the same time."""
    token = await add_bot(db, "loja", rate_per_s=10, paid_broadcast=False)
    await add_contacts(db, "loja", USERS)
    first = await add_shot(db, "loja", wake=True)
    await start_worker()
    assert (await wait_for_status(db, first))["status"] == "sent"
    job_id = await _job(db, first, "recall")

    async def running() -> bool:
        async with db.read() as conn:
            job = await jobs.get_job(conn, job_id)
        return job is not None and job.status == "running"

    await wait_until(running, what="the recall running")
    second = await add_shot(db, "loja", wake=True)
    seen: set[tuple[str, str]] = set()
    while True:  # one read each time: the two never run together
        async with db.read() as conn:
            job = await jobs.get_job(conn, job_id)
            shot = (await conn.execute(select(shots_queue.c.status).where(
                shots_queue.c.id == second
            ))).scalar_one()  # fmt: skip
        assert job is not None
        seen.add((job.status, shot))
        assert not (job.status == "running" and shot == "running"), seen
        if job.status == "done":
            break
        await asyncio.sleep(0.02)
    assert ("running", "pending") in seen
    assert (await wait_for_status(db, second))["status"] == "sent"
    assert len(await sim.messages(token)) == 2 * len(USERS)
