"""An expiry through a real worker and the simulator over HTTP, on both databases: the shot
ends expired midway. The worker decides on the machine's clock, and so does the test's
expires_at."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from worker_support import (
    Sim,
    StartWorker,
    add_bot,
    add_contacts,
    add_shot,
    deliveries,
    set_shot,
    wait_for_status,
)

from disparo.db.engine import Database

FINAL = ("sent", "skipped", "error", "cancelled", "expired")


async def outcomes(db: Database, shot_id: int) -> dict[int, str]:
    """telegram_id → the delivery's reason if skipped, else its status."""
    return {r["telegram_id"]: r["reason"] or r["status"] for r in await deliveries(db, shot_id)}


async def test_an_expiry_midway_ends_the_shot_expired(
    db: Database, sim: Sim, start_worker: StartWorker
) -> None:
    """2,000 recipients at 30/s (a minute of sending), expiring 4 s after it is queued: the
    shot ends expired, what went is recorded sent (each once), everything else skipped
    (expired)."""
    token = await add_bot(db, "loja", rate_per_s=30, paid_broadcast=False)
    await add_contacts(db, "loja", range(1, 2001))
    real_now = datetime.now(UTC)
    shot_id = await add_shot(db, "loja", wake=True)
    await set_shot(db, shot_id, expires_at=real_now + timedelta(seconds=4))
    await start_worker()
    row = await wait_for_status(db, shot_id, FINAL)
    assert row["status"] == "expired"
    assert row["locked_by"] is None
    counts = Counter((await outcomes(db, shot_id)).values())
    assert set(counts) == {"sent", "expired"}
    assert 0 < counts["sent"] < 500
    assert row["last_error"].endswith(
        f"; {counts['expired']} deliveries never sent were skipped (expired)"
    )
    stats = await sim.stats(token)
    assert (stats["delivered"], stats["duplicates"]["count"]) == (counts["sent"], 0)
