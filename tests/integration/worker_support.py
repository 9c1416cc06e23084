"""Test data for the engine's tests: bots, contacts, PIX sources and shots written directly."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import insert, select, update

from disparo.db.engine import Database
from disparo.db.tables import (
    bots,
    funnel_events,
    payment_transactions,
    shots_queue,
    shots_sent,
    telegram_contacts,
)
from disparo.engine.worker import Worker, WorkerSettings
from disparo.simulator import SimulatorServer

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# A shot queued without a time is due long before either clock a test may use: the fixed `NOW`
# or the machine's (the worker tests run on it), whatever the date the suite runs on.
DUE = datetime(2000, 1, 1, tzinfo=UTC)
FINAL = ("sent", "skipped", "error", "cancelled")
_bot_ids = itertools.count(7_000_000_001)


def token_for(bot_id: int) -> str:
    """A well-formed bot token the simulator accepts (35 characters after the colon)."""
    return f"{bot_id}:{'A' * 20}{bot_id:015d}"


async def add_bot(
    db: Database, slug: str, *, rate_per_s: int = 1000, paid_broadcast: bool = True
) -> str:
    """Register a bot; its token (unique per bot). Tests default to fast paid-broadcast rates."""
    token = token_for(next(_bot_ids))
    async with db.write() as conn:
        await conn.execute(
            insert(bots).values(
                slug=slug,
                token=token,
                rate_per_s=rate_per_s,
                paid_broadcast=paid_broadcast,
                webhook_secret="s" * 20,
            )
        )
    return token


async def add_contacts(
    db: Database,
    slug: str,
    ids: Iterable[int],
    *,
    chat_state: str = "active",
    last_interaction_at: datetime | None = NOW,
) -> None:
    """Contacts of `slug`, all with the same state and last interaction."""
    rows = [
        {
            "bot_slug": slug,
            "telegram_id": tid,
            "chat_state": chat_state,
            "last_interaction_at": last_interaction_at,
            "updated_at": NOW,
        }
        for tid in ids
    ]
    if rows:
        async with db.write() as conn:
            await conn.execute(insert(telegram_contacts), rows)


async def add_funnel_event(db: Database, slug: str, telegram_id: int, event: str) -> None:
    """One funnel event."""
    async with db.write() as conn:
        await conn.execute(
            insert(funnel_events).values(
                bot_slug=slug, telegram_id=telegram_id, event=event, occurred_at=NOW
            )
        )


async def add_payment(db: Database, slug: str, telegram_id: int, status: str) -> None:
    """One payment transaction."""
    async with db.write() as conn:
        await conn.execute(
            insert(payment_transactions).values(
                bot_slug=slug,
                telegram_id=telegram_id,
                external_id=f"{telegram_id}-{status}",
                status=status,
                amount_cents=990,
            )
        )


async def add_shot(
    db: Database,
    slug: str,
    *,
    target: str = "started",
    copy: str = "<b>Oferta</b> só hoje",
    media_type: str = "none",
    media_url: str | None = None,
    buttons: Any = None,
    recency_days: int | None = None,
    scheduled_at: datetime | None = None,
    status: str = "pending",
    wake: bool = False,
) -> int:
    """Queue a shot (due at once on any clock unless `scheduled_at`); its id."""
    async with db.write(wake=wake) as conn:
        result = await conn.execute(
            insert(shots_queue)
            .values(
                bot_slug=slug,
                target=target,
                copy=copy,
                media_type=media_type,
                media_url=media_url,
                buttons=buttons,
                recency_days=recency_days,
                scheduled_at=scheduled_at or DUE,
                status=status,
            )
            .returning(shots_queue.c.id)
        )
        return int(result.scalar_one())


async def shot(db: Database, shot_id: int) -> Any:
    """The shot's row."""
    async with db.read() as conn:
        return (
            (await conn.execute(select(shots_queue).where(shots_queue.c.id == shot_id)))
            .mappings()
            .one()
        )


async def set_shot(db: Database, shot_id: int, *, wake: bool = True, **values: Any) -> None:
    """Change a shot as the operator's API would (status pause/resume/cancel), waking workers."""
    async with db.write(wake=wake) as conn:
        await conn.execute(update(shots_queue).where(shots_queue.c.id == shot_id).values(**values))


async def deliveries(db: Database, shot_id: int) -> list[Any]:
    """The shot's deliveries in send order."""
    async with db.read() as conn:
        query = select(shots_sent).where(shots_sent.c.shot_id == shot_id).order_by(shots_sent.c.seq)
        return list((await conn.execute(query)).mappings().all())


async def contact_states(db: Database, slug: str) -> dict[int, str]:
    """telegram_id → chat_state of every contact of `slug`."""
    async with db.read() as conn:
        query = select(telegram_contacts.c.telegram_id, telegram_contacts.c.chat_state).where(
            telegram_contacts.c.bot_slug == slug
        )
        return {row.telegram_id: row.chat_state for row in await conn.execute(query)}


def statuses(rows: Sequence[Any]) -> dict[str, int]:
    """How many deliveries are in each status."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


class Sim:
    """The simulator's control API."""

    def __init__(self, server: SimulatorServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.base_url = server.base_url
        self.session = session

    async def control(self, path: str, body: Any = None, *, method: str = "POST") -> Any:
        """One control call; its result."""
        url = f"{self.base_url}/sim/{path}"
        async with self.session.request(method, url, json=body) as response:
            answer = await response.json()
            assert response.status == 200, answer
            return answer["result"]

    async def users(self, token: str, states: dict[int, str]) -> None:
        """Set simulated users' states (active, blocked, deactivated, missing)."""
        await self.control(
            f"bots/{token}/users", [{"id": uid, "state": st} for uid, st in states.items()]
        )

    async def faults(self, **faults: Any) -> None:
        """Inject faults (5xx shares, drops, a 429 storm)."""
        await self.control("faults", faults)

    async def limits(self, token: str, **limits: Any) -> None:
        """Change a bot's flood limits."""
        await self.control(f"bots/{token}/limits", limits)

    async def stats(self, token: str) -> dict[str, Any]:
        """The bot's counters: requests, delivered, 429, duplicates, ..."""
        bots = (await self.control("stats", method="GET"))["bots"]
        stats: dict[str, Any] = bots.get(token.partition(":")[0], {})
        return stats

    async def messages(self, token: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot delivered (to one chat, or to all)."""
        query = "" if chat_id is None else f"?chat_id={chat_id}"
        result: list[dict[str, Any]] = await self.control(
            f"bots/{token}/messages{query}", method="GET"
        )
        return result


FAST = WorkerSettings(
    lease_s=10.0, poll_interval_s=0.2, rescue_interval_s=0.5, control_interval_s=0.1
)

StartWorker = Callable[..., Awaitable[Worker]]


def worker_settings(**changes: Any) -> WorkerSettings:
    """The fast test settings with `changes`."""
    values = {name: getattr(FAST, name) for name in WorkerSettings.__slots__}
    return WorkerSettings(**{**values, **changes})


async def wait_for_status(
    db: Database, shot_id: int, statuses: tuple[str, ...] = FINAL, *, timeout_s: float = 20.0
) -> Any:
    """Poll the shot until its status is one of `statuses`; the row."""
    deadline = time.monotonic() + timeout_s
    while True:
        row = await shot(db, shot_id)
        if row["status"] in statuses:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"shot {shot_id} still {row['status']} after {timeout_s} s")
        await asyncio.sleep(0.05)


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, timeout_s: float = 20.0, what: str = "condition"
) -> None:
    """Poll `predicate` until true."""
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached after {timeout_s} s")
        await asyncio.sleep(0.05)
