"""The in-memory store's rows and what a test does with them: the tables as plain objects, the
seeding and reading a test does (`MemoryData`), and the row rules every part of the store
shares (freeing a shot, handing deliveries back, skipping them). `memory_store.MemoryShotStore`
builds the engine's storage on top of it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from disparo.db.audience import AudienceError
from disparo.db.bots import BotRecord
from disparo.db.outcomes import LOST_ERROR
from disparo.db.secrets import SecretKeyError
from disparo.db.types import JSONValue
from disparo.domain.outcomes import Reason
from disparo.domain.statuses import (
    UNREACHABLE_CHAT_STATES,
    ChatState,
    DeliveryStatus,
    PaymentStatus,
    ShotStatus,
    Target,
)
from disparo.domain.variables import ContactValues

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DatabaseAwayError(ConnectionRefusedError):
    """The memory store plays a database that cannot be reached (an outage, as the engine
    classifies it)."""


@dataclass
class StoredShot:
    """A `shots_queue` row."""

    id: int
    bot_slug: str
    scheduled_at: datetime
    updated_at: datetime
    target: str = Target.STARTED.value
    recency_days: int | None = None
    copy: str = "<b>Oferta</b> só hoje"
    media_url: str | None = None
    media_type: str = "none"
    buttons: JSONValue = None
    status: ShotStatus = ShotStatus.PENDING
    locked_by: str | None = None
    lease_expires_at: datetime | None = None
    attempt_count: int = 0
    audience_total: int | None = None
    audience_complete: bool = True
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime = EPOCH
    expires_at: datetime | None = None
    stop_on: str | None = None
    ignore_frequency_cap: bool = False
    templated: bool = False


@dataclass
class StoredDelivery:
    """A `shots_sent` row."""

    shot_id: int
    telegram_id: int
    seq: int
    status: DeliveryStatus = DeliveryStatus.PENDING
    reason: str | None = None
    error: str | None = None
    message_id: int | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    updated_at: datetime | None = None


@dataclass
class StoredContact:
    """A `telegram_contacts` row (what audiences and pruning read)."""

    bot_slug: str
    telegram_id: int
    chat_state: ChatState = ChatState.ACTIVE
    last_interaction_at: datetime | None = None
    has_pix: bool = False
    blocked_at: datetime | None = None
    values: ContactValues = field(default_factory=ContactValues)  # what variables read


@dataclass(frozen=True)
class StoredEvent:
    """A `funnel_events` row (what stop-on-conversion reads)."""

    bot_slug: str
    telegram_id: int
    event: str
    occurred_at: datetime


@dataclass(frozen=True)
class StoredPayment:
    """A `payment_transactions` row (what stop-on-conversion reads)."""

    bot_slug: str
    telegram_id: int
    status: PaymentStatus
    created_at: datetime
    paid_at: datetime | None = None


def audience_of(
    contacts: Iterable[StoredContact],
    bot_slug: str,
    target: str,
    recency_days: int | None,
    now: datetime,
) -> list[int]:
    """The audience's telegram ids in send order, as `db.audience` selects them."""
    try:
        parsed = Target(target)
    except ValueError:
        raise AudienceError(f"target '{target}' is unknown") from None
    if recency_days is not None and recency_days < 1:
        raise AudienceError(f"recency_days must be at least 1 (or absent), not {recency_days}")
    since = None if recency_days is None else now - timedelta(days=recency_days)
    dated: list[tuple[datetime, int]] = []
    undated: list[int] = []
    for c in contacts:
        if c.bot_slug != bot_slug or c.chat_state in UNREACHABLE_CHAT_STATES:
            continue
        if parsed is Target.PIX_CREATED and not c.has_pix:
            continue
        if c.last_interaction_at is None:
            if since is None:
                undated.append(c.telegram_id)
        elif since is None or c.last_interaction_at >= since:
            dated.append((c.last_interaction_at, c.telegram_id))
    # Hot leads first: latest interaction first, ties by telegram_id, never-interacted last.
    dated.sort(key=lambda member: (-member[0].timestamp(), member[1]))
    return [tid for _, tid in dated] + sorted(undated)


@dataclass
class MemoryData:
    """Bots, contacts, conversions, shots and deliveries in plain collections; every store call
    may first wait `latency_s` (as a round trip would), and fails while `down` or when its name
    is in `failing`."""

    latency_s: float = 0.0
    down: bool = False
    failing: set[str] = field(default_factory=set)
    shots: dict[int, StoredShot] = field(default_factory=dict)
    deliveries: dict[tuple[int, int], StoredDelivery] = field(default_factory=dict)
    contacts: dict[tuple[str, int], StoredContact] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)
    payments: list[StoredPayment] = field(default_factory=list)
    bot_records: dict[str, BotRecord | SecretKeyError] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    _wake: list[Callable[[], None]] = field(default_factory=list)

    # what a test writes and reads ----------------------------------------------------------

    def add_bot(
        self,
        slug: str,
        token: str,
        *,
        rate_per_s: int = 25,
        paid_broadcast: bool = False,
        timezone: str = "UTC",
        **rules: Any,
    ) -> None:
        """Register a bot; `rules` are its send-time rules (max_shots_per_contact,
        cap_window_hours, quiet_hours_start, quiet_hours_end)."""
        self.bot_records[slug] = BotRecord(
            slug=slug,
            token=token,
            name=None,
            telegram_bot_id=None,
            telegram_username=None,
            rate_per_s=rate_per_s,
            paid_broadcast=paid_broadcast,
            timezone=timezone,
            webhook_secret="s" * 20,
            polling=False,
            updates_offset=None,
            created_at=EPOCH,
            updated_at=EPOCH,
            **rules,
        )

    def add_contacts(
        self,
        slug: str,
        ids: Iterable[int],
        *,
        chat_state: ChatState = ChatState.ACTIVE,
        last_interaction_at: datetime | None = None,
        has_pix: bool = False,
    ) -> None:
        """Contacts of `slug`, all alike."""
        for tid in ids:
            contact = StoredContact(slug, tid, chat_state, last_interaction_at, has_pix)
            self.contacts[slug, tid] = contact

    def add_event(self, slug: str, telegram_id: int, event: str, *, at: datetime) -> None:
        """A funnel event of a contact."""
        self.events.append(StoredEvent(slug, telegram_id, event, at))

    def add_payment(
        self,
        slug: str,
        telegram_id: int,
        status: PaymentStatus,
        *,
        created_at: datetime,
        paid_at: datetime | None = None,
    ) -> None:
        """A payment transaction of a contact."""
        self.payments.append(StoredPayment(slug, telegram_id, status, created_at, paid_at))

    def add_shot(self, slug: str, *, scheduled_at: datetime, **values: Any) -> int:
        """Queue a shot (other columns as keyword arguments); its id."""
        shot_id = max(self.shots, default=0) + 1
        if "status" in values:
            values["status"] = ShotStatus(values["status"])
        self.shots[shot_id] = StoredShot(shot_id, slug, scheduled_at, scheduled_at, **values)
        return shot_id

    def set_shot(self, shot_id: int, *, wake: bool = True, **values: Any) -> None:
        """Change a shot as the operator's API does (pause, resume, cancel), waking workers."""
        shot = self.shots[shot_id]
        if "status" in values:
            values["status"] = ShotStatus(values["status"])
        for name, value in values.items():
            setattr(shot, name, value)
        if wake:
            self._wake_up()

    def shot_deliveries(self, shot_id: int) -> list[StoredDelivery]:
        """The shot's deliveries in send order."""
        rows = [d for (sid, _), d in self.deliveries.items() if sid == shot_id]
        return sorted(rows, key=lambda d: d.seq)

    def counts(self, shot_id: int) -> dict[str, int]:
        """The shot's deliveries by status."""
        return dict(Counter(d.status.value for d in self.shot_deliveries(shot_id)))

    # the row rules, shared -----------------------------------------------------------------

    async def _call(self, name: str) -> None:
        self.calls[name] += 1
        await asyncio.sleep(self.latency_s)
        if self.down or name in self.failing:
            raise DatabaseAwayError(f"{name}: the database is away")

    def _wake_up(self) -> None:
        for callback in list(self._wake):
            callback()

    def _free(self, shot: StoredShot, now: datetime) -> None:
        shot.locked_by, shot.lease_expires_at, shot.updated_at = None, None, now

    def _return_unsent(self, shot_id: int, unsent: Collection[int], now: datetime) -> None:
        for telegram_id in unsent:
            delivery = self.deliveries.get((shot_id, telegram_id))
            if delivery is not None and delivery.status is DeliveryStatus.SENDING:
                delivery.status, delivery.updated_at = DeliveryStatus.PENDING, now

    def _mark_sending_unknown(self, shot_id: int, now: datetime, reason: Reason) -> int:
        marked = 0
        for delivery in self.shot_deliveries(shot_id):
            if delivery.status is DeliveryStatus.SENDING:
                delivery.status, delivery.reason = DeliveryStatus.UNKNOWN, reason.value
                delivery.error, delivery.updated_at = LOST_ERROR, now
                marked += 1
        return marked

    def _skip_never_sent(
        self, shot_id: int, unsent: Collection[int], reason: Reason, now: datetime
    ) -> int:
        """Pending deliveries, and the reserved ones in `unsent`, end skipped with `reason`."""
        skipped = 0
        for delivery in self.shot_deliveries(shot_id):
            reserved = delivery.status is DeliveryStatus.SENDING
            if delivery.status is DeliveryStatus.PENDING or (
                reserved and delivery.telegram_id in unsent
            ):
                delivery.status, delivery.reason = DeliveryStatus.SKIPPED, reason.value
                delivery.updated_at = now
                skipped += 1
        return skipped
