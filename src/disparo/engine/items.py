"""A delivery on its way through the engine, what is recorded of it, and why a sender stops."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from types import MappingProxyType
from typing import Any, Final, Protocol

from disparo.db.deliveries import ContactChange, DeliveryOutcome
from disparo.db.leases import ClaimedShot
from disparo.domain.outcomes import Failure, FailureKind, Verdict
from disparo.domain.sending import Step
from disparo.domain.statuses import DeliveryStatus, ShotStatus
from disparo.domain.variables import ContactValues
from disparo.telegram import MaybeDeliveredError, NotDeliveredError, TelegramAPIError


class Stop(IntEnum):
    """Why a sender stopped; a stronger reason overrides a weaker one asked earlier."""

    DONE = 0
    SHUTDOWN = 1
    PAUSED = 2
    EXPIRED = 3  # its expires_at passed: final, so stronger than a pause or a shutdown
    CANCELLED = 4
    SHOT_ERROR = 5
    BOT_REVOKED = 6
    LOST = 7


# Why a sender stops when its shot, still leased to its worker, is no longer running.
STOP_FOR_STATUS: Final[Mapping[ShotStatus, Stop]] = MappingProxyType(
    {
        ShotStatus.PAUSED: Stop.PAUSED,
        ShotStatus.PENDING: Stop.PAUSED,  # paused, then resumed before this worker noticed
        ShotStatus.CANCELLED: Stop.CANCELLED,
    }
)


def stop_for(status: ShotStatus | None) -> Stop:
    """Why to stop sending a shot found in `status` (None: its lease is not ours any more).

    A status the operator cannot set on a running shot (sent, error, ...) means someone else
    ended it: the lease is as good as lost.
    """
    if status is None:
        return Stop.LOST
    return STOP_FOR_STATUS.get(status, Stop.LOST)


class BotCaller(Protocol):
    """The Bot API as a sender uses it (`disparo.telegram.Bot` is one)."""

    async def call(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        on_write: Callable[[], object] | None = None,
    ) -> Any:
        """Call `method`; Telegram's `result`, or a `disparo.telegram` error. `on_write` runs
        right before the request is written (never if it is not)."""
        ...


class LeaseView(Protocol):
    """Whether this worker may still send for a shot (its local lease deadline not passed)."""

    def valid(self, shot_id: int) -> bool:
        """True while sending is allowed."""
        ...


@dataclass(slots=True)
class Batch:
    """One reservation, for the `batch completed` log line."""

    number: int
    remaining: int
    counts: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True, eq=False)
class Item:
    """One reserved delivery on its way: which step is next and what its tries were."""

    telegram_id: int
    seq: int
    batch: Batch
    step: int = 0
    requests: int = 0
    transient: int = 0
    rate_limited: int = 0
    delivered_message_id: int | None = None  # the audio's id once it went (audio shots)
    not_before: float = 0.0
    values: ContactValues | None = None  # what its variables read (a shot with variables)
    steps: tuple[Step, ...] | None = None  # its own calls, rendered from `values`
    variant: str | None = None  # the shot's variant it gets (None: the shot's own content)

    def __lt__(self, other: Item) -> bool:
        return (self.not_before, self.seq) < (other.not_before, other.seq)


def failure_of(exc: Exception) -> Failure:
    """The plain-value view of a failed request, for `domain.outcomes.classify`."""
    if isinstance(exc, TelegramAPIError):
        return Failure(FailureKind.API, exc.error_code, exc.description, exc.retry_after)
    if isinstance(exc, NotDeliveredError):
        return Failure(FailureKind.NOT_DELIVERED, description=str(exc))
    if isinstance(exc, MaybeDeliveredError):
        return Failure(FailureKind.MAYBE_DELIVERED, description=str(exc))
    # A bug or an unexpected answer after the request went: delivery cannot be known.
    return Failure(FailureKind.MAYBE_DELIVERED, description=f"{type(exc).__name__}: {exc}")


def outcome_of(
    shot: ClaimedShot,
    item: Item,
    status: DeliveryStatus,
    verdict: Verdict | None,
    message_id: int | None,
    sent_at: datetime | None,
) -> tuple[DeliveryOutcome, ContactChange | None]:
    """What to record of a delivery's final outcome, and the contact change it proves if any."""
    reason = verdict.reason.value if verdict and verdict.reason else None
    error = verdict.error if verdict else None
    if item.delivered_message_id is not None and status is not DeliveryStatus.SENT:
        # Audio shots: the audio went, the copy did not; record the proof of the audio.
        message_id = item.delivered_message_id
        error = f"the audio was delivered (message {message_id}) but the copy was not: {error}"
    change = None
    if verdict is not None and verdict.chat_state is not None:
        change = ContactChange(shot.bot_slug, item.telegram_id, verdict.chat_state.value)
    audio = item.delivered_message_id if status is DeliveryStatus.SENT else None
    outcome = DeliveryOutcome(
        shot.id, item.telegram_id, status.value, reason, error, message_id, sent_at, item.requests,
        audio,
    )  # fmt: skip
    return outcome, change
