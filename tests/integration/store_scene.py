"""The scene of the storage contract tests: one store (SQLite, PostgreSQL or memory) and the
writes and reads a test makes around it, on whichever side holds the data. One clock: NOW."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, update
from worker_support import NOW, add_bot, add_contacts, add_shot, deliveries, set_shot, shot

from disparo.db.deliveries import ReservationState, Snapshot
from disparo.db.engine import Database
from disparo.db.secrets import TokenCipher
from disparo.db.store import SqlShotStore
from disparo.db.tables import funnel_events, payment_transactions, telegram_contacts
from disparo.domain.statuses import ChatState, PaymentStatus, ShotStatus
from disparo.engine.memory_store import MemoryShotStore
from disparo.engine.store import ShotStore

BACKENDS = ("sqlite", "postgresql", "memory")
_payment_ids = itertools.count(1)

LEASE = NOW + timedelta(seconds=30)
HOUR = timedelta(hours=1)


@dataclass
class Scene:
    """Writes and reads a test makes around the store, on whichever side holds the data."""

    store: ShotStore
    db: Database | None = None
    memory: MemoryShotStore | None = None

    async def bot(self, slug: str) -> None:
        if self.memory is not None:
            self.memory.add_bot(slug, f"{len(self.memory.bot_records) + 1}:token")
        else:
            assert self.db is not None
            await add_bot(self.db, slug)

    async def contacts(
        self,
        slug: str,
        ids: list[int],
        *,
        chat_state: ChatState = ChatState.ACTIVE,
        last_interaction_at: datetime | None = NOW,
    ) -> None:
        if self.memory is not None:
            self.memory.add_contacts(
                slug, ids, chat_state=chat_state, last_interaction_at=last_interaction_at
            )
        else:
            assert self.db is not None
            await add_contacts(
                self.db,
                slug,
                ids,
                chat_state=chat_state.value,
                last_interaction_at=last_interaction_at,
            )

    async def block(self, slug: str, telegram_id: int) -> None:
        """The contact blocked the bot (an update arrived)."""
        if self.memory is not None:
            self.memory.contacts[slug, telegram_id].chat_state = ChatState.BLOCKED
        else:
            assert self.db is not None
            async with self.db.write() as conn:
                c = telegram_contacts.c
                await conn.execute(
                    update(telegram_contacts)
                    .where(c.bot_slug == slug, c.telegram_id == telegram_id)
                    .values(chat_state=ChatState.BLOCKED.value)
                )

    async def forget_contact(self, slug: str, telegram_id: int) -> None:
        if self.memory is not None:
            del self.memory.contacts[slug, telegram_id]
        else:
            assert self.db is not None
            async with self.db.write() as conn:
                c = telegram_contacts.c
                await conn.execute(
                    delete(telegram_contacts).where(
                        c.bot_slug == slug, c.telegram_id == telegram_id
                    )
                )

    async def shot(self, slug: str, *, scheduled_at: datetime = NOW, **values: Any) -> int:
        """A pending shot; `values` set other columns (created_at, expires_at, stop_on, ...)."""
        if self.memory is not None:
            return self.memory.add_shot(slug, scheduled_at=scheduled_at, **values)
        assert self.db is not None
        shot_id = await add_shot(self.db, slug, scheduled_at=scheduled_at)
        if values:
            await set_shot(self.db, shot_id, wake=False, **values)
        return shot_id

    async def event(self, slug: str, telegram_id: int, event: str, *, at: datetime) -> None:
        """A funnel event of a contact."""
        if self.memory is not None:
            self.memory.add_event(slug, telegram_id, event, at=at)
            return
        assert self.db is not None
        async with self.db.write() as conn:
            await conn.execute(
                insert(funnel_events).values(
                    bot_slug=slug, telegram_id=telegram_id, event=event, occurred_at=at
                )
            )

    async def payment(
        self,
        slug: str,
        telegram_id: int,
        status: PaymentStatus,
        *,
        created_at: datetime,
        paid_at: datetime | None = None,
    ) -> None:
        """A payment transaction of a contact."""
        if self.memory is not None:
            self.memory.add_payment(
                slug, telegram_id, status, created_at=created_at, paid_at=paid_at
            )
            return
        assert self.db is not None
        async with self.db.write() as conn:
            await conn.execute(
                insert(payment_transactions).values(
                    bot_slug=slug,
                    telegram_id=telegram_id,
                    external_id=f"tx-{next(_payment_ids)}",
                    status=status.value,
                    amount_cents=4990,
                    created_at=created_at,
                    paid_at=paid_at,
                )
            )

    async def change(self, shot_id: int, **values: Any) -> None:
        """As the operator (or another worker) would, without a wake-up."""
        if self.memory is not None:
            self.memory.set_shot(shot_id, wake=False, **values)
        else:
            assert self.db is not None
            await set_shot(self.db, shot_id, wake=False, **values)

    async def row(self, shot_id: int) -> dict[str, Any]:
        names = (
            "status",
            "locked_by",
            "attempt_count",
            "last_error",
            "audience_total",
            "audience_complete",
            "finished_at",
        )
        if self.memory is not None:
            stored = self.memory.shots[shot_id]
            return {name: getattr(stored, name) for name in names}
        assert self.db is not None
        found = await shot(self.db, shot_id)
        return {name: found[name] for name in names}

    async def deliveries(self, shot_id: int) -> dict[int, tuple[str, str | None]]:
        """telegram_id → (status, reason), in send order."""
        if self.memory is not None:
            rows = self.memory.shot_deliveries(shot_id)
            return {d.telegram_id: (d.status.value, d.reason) for d in rows}
        assert self.db is not None
        found = await deliveries(self.db, shot_id)
        return {r["telegram_id"]: (r["status"], r["reason"]) for r in found}

    async def sequence(self, shot_id: int) -> list[tuple[int, int]]:
        """(seq, telegram_id) of the shot's deliveries, in send order."""
        if self.memory is not None:
            return [(d.seq, d.telegram_id) for d in self.memory.shot_deliveries(shot_id)]
        assert self.db is not None
        return [(r["seq"], r["telegram_id"]) for r in await deliveries(self.db, shot_id)]

    async def chat_state(self, slug: str, telegram_id: int) -> str:
        if self.memory is not None:
            return self.memory.contacts[slug, telegram_id].chat_state.value
        assert self.db is not None
        async with self.db.read() as conn:
            c = telegram_contacts.c
            query = telegram_contacts.select().where(
                c.bot_slug == slug, c.telegram_id == telegram_id
            )
            return str((await conn.execute(query)).mappings().one()["chat_state"])

    # the engine's steps, as worker w1 -----------------------------------------------------

    async def claim(self, worker_id: str = "w1", *, now: datetime = NOW) -> int | None:
        claimed = await self.store.claim_due_shot(
            worker_id=worker_id, now=now, lease_expires_at=now + timedelta(seconds=30)
        )
        return None if claimed is None else claimed.id

    async def snapshot(
        self,
        shot_id: int,
        *,
        reserve: int = 0,
        worker_id: str = "w1",
        slug: str = "loja",
        first: int | None = None,
    ) -> Snapshot | None:
        return await self.store.snapshot_audience(
            shot_id,
            bot_slug=slug,
            target="started",
            recency_days=None,
            worker_id=worker_id,
            now=NOW,
            reserve=reserve,
            first=first,
        )

    async def continue_snapshot(
        self,
        shot_id: int,
        *,
        chunk: int,
        worker_id: str = "w1",
        chunks: int | None = None,
        grow_from: int | None = None,
    ) -> tuple[tuple[ReservationState, ShotStatus | None], list[int]]:
        """The rest of the audience in chunks (only `chunks` of them, if given); the state and
        the totals told after each chunk."""
        told: list[int] = []

        def written(total: int) -> bool:
            told.append(total)
            return chunks is None or len(told) < chunks

        ending = await self.store.continue_snapshot(
            shot_id,
            bot_slug="loja",
            target="started",
            recency_days=None,
            worker_id=worker_id,
            now=NOW,
            chunk=chunk,
            written=written,
            grow_from=grow_from,
        )
        return ending, told


def make_scene(backend: str, request: pytest.FixtureRequest) -> Scene:
    """A store of `backend`'s kind over an empty database (or memory)."""
    if backend == "memory":
        memory = MemoryShotStore()
        return Scene(memory, memory=memory)
    db: Database = request.getfixturevalue("db")
    return Scene(SqlShotStore(db, TokenCipher(None)), db=db)


async def shop(scene: Scene, contacts: int = 5) -> int:
    """Bot `loja` with contacts 1..n (n the hottest lead), a shot due at NOW claimed by w1."""
    await scene.bot("loja")
    for n in range(1, contacts + 1):
        await scene.contacts("loja", [n], last_interaction_at=NOW - timedelta(hours=100 - n))
    shot_id = await scene.shot("loja")
    assert await scene.claim() == shot_id
    return shot_id
