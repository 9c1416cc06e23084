"""The statuses of shots and deliveries, and which transitions between them are allowed."""

from __future__ import annotations

from enum import StrEnum

from disparo.domain.errors import DomainError


class Target(StrEnum):
    """Who a shot goes to: everyone who pressed /start, or everyone who generated a PIX."""

    STARTED = "started"
    PIX_CREATED = "pix_created"


class MediaType(StrEnum):
    """What a shot carries besides its copy."""

    PHOTO = "photo"
    VIDEO = "video"
    AUDIO = "audio"
    NONE = "none"


class ShotStatus(StrEnum):
    """Life cycle of a shot (a `shots_queue` row)."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    SENT = "sent"
    SKIPPED = "skipped"
    ERROR = "error"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # its expires_at passed: whatever was unsent was skipped (expired)


class DeliveryStatus(StrEnum):
    """Life cycle of one delivery (a `shots_sent` row): one recipient of one shot."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    ERROR = "error"
    UNKNOWN = "unknown"
    # A holdout member (A/B measurement): never sent anything, passed when its turn came.
    HOLDOUT = "holdout"


class StopOn(StrEnum):
    """A conversion that takes a recipient out of a shot made before it (reason `converted`)."""

    PIX_CREATED = "pix_created"
    PAID = "paid"


class ChatState(StrEnum):
    """Whether a contact can still be reached by the bot."""

    ACTIVE = "active"
    BLOCKED = "blocked"
    DEACTIVATED = "deactivated"


class PaymentStatus(StrEnum):
    """Status of a payment transaction (PIX)."""

    CREATED = "created"
    PAID = "paid"
    EXPIRED = "expired"
    REFUNDED = "refunded"


FINAL_SHOT_STATUSES = frozenset(
    {
        ShotStatus.SENT,
        ShotStatus.SKIPPED,
        ShotStatus.ERROR,
        ShotStatus.CANCELLED,
        ShotStatus.EXPIRED,
    }
)
FINAL_DELIVERY_STATUSES = frozenset(
    {
        DeliveryStatus.SENT,
        DeliveryStatus.SKIPPED,
        DeliveryStatus.ERROR,
        DeliveryStatus.UNKNOWN,
        DeliveryStatus.HOLDOUT,
    }
)
UNREACHABLE_CHAT_STATES = frozenset({ChatState.BLOCKED, ChatState.DEACTIVATED})

# Funnel events and payment statuses that put a contact in the `pix_created` audience.
PIX_EVENTS = ("pix_created", "checkout_pix_created")
PIX_PAYMENT_STATUSES = (PaymentStatus.CREATED.value, PaymentStatus.PAID.value)

# Which operator actions are allowed from which status.
_OPERATOR_TRANSITIONS: dict[str, dict[ShotStatus, ShotStatus]] = {
    "edit": {ShotStatus.PENDING: ShotStatus.PENDING},
    "delete": {ShotStatus.PENDING: ShotStatus.CANCELLED},
    "pause": {ShotStatus.RUNNING: ShotStatus.PAUSED, ShotStatus.PENDING: ShotStatus.PAUSED},
    "resume": {ShotStatus.PAUSED: ShotStatus.PENDING},
    "cancel": {
        ShotStatus.PENDING: ShotStatus.CANCELLED,
        ShotStatus.RUNNING: ShotStatus.CANCELLED,
        ShotStatus.PAUSED: ShotStatus.CANCELLED,
    },
}


class TransitionError(DomainError):
    """This action is not allowed in the shot's current status."""

    def __init__(self, action: str, current: str) -> None:
        allowed = ", ".join(sorted(s.value for s in _OPERATOR_TRANSITIONS[action]))
        super().__init__(
            f"cannot {action} a shot whose status is '{current}'; "
            f"{action} is allowed only when the status is one of: {allowed}"
        )
        self.action = action
        self.current = current


def operator_transition(action: str, current: str) -> ShotStatus:
    """The status a shot moves to when the operator asks for `action`; refuse otherwise."""
    allowed = _OPERATOR_TRANSITIONS[action]
    try:
        return allowed[ShotStatus(current)]
    except (KeyError, ValueError):
        raise TransitionError(action, current) from None


def statuses_allowing(action: str) -> tuple[str, ...]:
    """The statuses from which `action` is allowed (for a guarded UPDATE)."""
    return tuple(s.value for s in _OPERATOR_TRANSITIONS[action])
