"""Why a claimed shot cannot start decides what happens to it, by the error's type: a token
sealed with another key or a bot gone fails that shot; a malformed token stops every shot of
the bot; anything else (the database away) hands the shot back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from worker_support import (
    Sim,
    StartWorker,
    add_bot,
    add_contacts,
    add_shot,
    shot,
    wait_for_status,
    worker_settings,
)

from disparo.db import leases
from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher, generate_key
from disparo.db.store import SqlShotStore
from disparo.db.tables import bots
from disparo.engine.worker import Worker
from disparo.telegram import BotAPI


async def _store_token(db: Database, slug: str, token: str) -> None:
    async with db.write() as conn:
        await conn.execute(update(bots).where(bots.c.slug == slug).values(token=token))


async def test_a_malformed_stored_token_stops_every_shot_of_the_bot(
    db: Database, start_worker: StartWorker
) -> None:
    """Only a token of the wrong shape says "fix the bot's token", and it stops the bot's
    later shots too (none of them could be sent)."""
    await add_bot(db, "loja")
    await _store_token(db, "loja", "not-a-token")
    await add_contacts(db, "loja", [1, 2])
    first = await add_shot(db, "loja")
    later = await add_shot(db, "loja", scheduled_at=datetime.now(UTC) + timedelta(hours=1))
    await start_worker()
    row = await wait_for_status(db, first, ("error",))
    assert "a bot token must look like '<bot id>:<secret>'" in row["last_error"]
    assert row["last_error"].endswith("fix the bot's token, then create the shot again")
    assert "not-a-token" not in row["last_error"]
    assert (await shot(db, later))["status"] == "error"


async def test_a_token_sealed_with_another_key_fails_its_shot(
    db: Database, start_worker: StartWorker
) -> None:
    """A token the worker's key cannot open fails the shot naming DISPARO_SECRET_KEY."""
    token = await add_bot(db, "loja")
    await _store_token(db, "loja", TokenCipher(generate_key()).seal(token))
    await add_contacts(db, "loja", [1])
    shot_id = await add_shot(db, "loja")
    await start_worker()
    row = await wait_for_status(db, shot_id, ("error",))
    assert "DISPARO_SECRET_KEY" in row["last_error"]
    assert "fix the bot's token" not in row["last_error"]


async def test_a_bot_gone_before_the_start_fails_its_shot_as_not_registered(
    db: Database, sim: Sim
) -> None:
    """When the claim's read of the bots finds none for the shot, the shot fails saying so;
    it is not reported as a bad token."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", [1])
    shot_id = await add_shot(db, "loja")
    now = datetime.now(UTC)
    async with BotAPI(sim.base_url, timeout_s=5.0) as api:
        worker = Worker(
            SqlShotStore(db, TokenCipher(None)), api, settings=worker_settings(), worker_id="w1"
        )
        (claimed,) = await leases.claim_due_shots(
            db, worker_id="w1", now=now, lease_expires_at=now + timedelta(seconds=30), limit=1
        )
        await worker._start(claimed, found={})
    row = await shot(db, shot_id)
    assert row["status"] == "error"
    assert row["last_error"] == (
        "the bot 'loja' is not registered; register it, then create the shot again"
    )
    assert row["locked_by"] is None
