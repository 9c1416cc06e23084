"""A faulty Telegram: 5 % 5xx, 2 % dropped connections, 1 % answers slower than the client's
timeout, and a 429 storm that outlasts its first retry_after. A real `disparo worker`
process against the simulator process, on both backends (`bench/chaos.py --runs faults` runs a
30 s storm at full size)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos_harness import FINAL_DELIVERY, FaultPlan, run_faults
from sqlalchemy.engine import URL

pytestmark = pytest.mark.slow


async def test_faults_end_each_recipient_with_one_outcome_and_never_resend(
    backend: str, db_url: URL, tmp_path: Path
) -> None:
    """5xx are retried, dropped and timed-out requests end `unknown` and are never resent
    (each chat got at most one message), and a 429 storm costs one refusal per pause plus
    the requests already in flight when it began."""
    plan = FaultPlan(
        backend=backend,
        bots=2,
        recipients=600,
        rate_per_s=100,
        error_5xx=0.05,
        drop=0.02,
        slow=0.01,
        slow_s=2.0,
        telegram_timeout_s=1.0,
        storm_s=3.0,
        finish_timeout_s=90.0,
    )
    report = await run_faults(plan, db_url, tmp_path / "logs")
    print(report)

    stormy, calm = report["per_shot"]
    for shot in (stormy, calm):
        assert shot["status"] == "sent", shot
        # Nothing lost: one final outcome per recipient.
        assert sum(shot["outcomes"].values()) == plan.recipients
        assert set(shot["outcomes"]) <= set(FINAL_DELIVERY)
        # Never twice: the simulator's count and the ledger, chat by chat.
        assert shot["duplicates"] == 0
        assert shot["messages_per_chat_max"] == 1
        assert set(shot["ledger_problems"].values()) == {0}, shot["ledger_problems"]
        # Faults really happened, and each ambiguous one is an `unknown`, never retried:
        # one per request answered too late, one per connection dropped.
        assert shot["5xx"] > 0
        assert shot["slow"] > 0
        assert shot["dropped"] > 0
        assert shot["unknown_by_error"] == {"timeout": shot["slow"], "dropped": shot["dropped"]}
        # A 5xx or a dropped request never reached the chat: retried until sent (or `error`
        # after three), or `unknown`; only a late answer may hide a delivery (not when the late
        # answer was a 429 of the storm).
        assert shot["outcomes"]["sent"] <= shot["delivered"]
        assert shot["delivered"] <= shot["outcomes"]["sent"] + shot["slow"]
    # The storm: each 429 the engine received opened a pause or was in flight when it began:
    # each pause counts the refusal that opened it plus at most what was in flight at 100/s.
    # The engine saw every 429 the simulator sent, but one answered past the timeout.
    assert stormy["rate_limited_log_lines"] <= stormy["429"]
    assert stormy["429"] <= stormy["rate_limited_log_lines"] + stormy["slow"]
    assert stormy["pauses"] == 2
    assert all(refused <= 1 + 10 for refused in stormy["refusals_per_pause"])
    assert calm["429"] == 0
