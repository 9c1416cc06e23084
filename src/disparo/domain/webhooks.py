"""Outgoing webhooks as values: the event types, which receiver URLs are accepted, how a
delivery is signed, and when a failed one is tried again."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

SIGNATURE_HEADER = "Disparo-Signature"
EVENT_ID_HEADER = "Disparo-Event-Id"
EVENT_TYPE_HEADER = "Disparo-Event-Type"
RETRY_WINDOW = timedelta(hours=24)
MAX_URL_LENGTH = 2048


class EventType(StrEnum):
    """What an endpoint may subscribe to."""

    SHOT_STARTED = "shot.started"
    SHOT_FINISHED = "shot.finished"
    SHOT_FAILED = "shot.failed"
    CONTACT_BLOCKED = "contact.blocked"
    CONTACT_DEACTIVATED = "contact.deactivated"
    CONVERSION = "conversion"


EVENT_TYPES = tuple(e.value for e in EventType)


class DeliveryState(StrEnum):
    """Where one event stands with one endpoint."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks, or None: https anywhere, http only to this machine."""
    if len(url) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https:// URL with a host, e.g. https://crm.example.com/disparo"
    try:
        parts.port  # noqa: B018 (reading it validates it)
    except ValueError:
        return "has an invalid port"
    if parts.username or parts.password:
        return "must not carry a user or password; the signature authenticates each delivery"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "must use https (http is accepted only for this machine: localhost, 127.0.0.1, ::1)"
    return None


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def events_text(events: list[str] | tuple[str, ...]) -> str:
    """How an endpoint's event types are stored: known ones, once each, in a fixed order."""
    wanted = set(events)
    return ",".join(e for e in EVENT_TYPES if e in wanted)


def events_list(stored: str) -> list[str]:
    """The event types of a stored `events` value."""
    return [e for e in stored.split(",") if e]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Disparo-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_matches(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int) -> bool:
    """What a receiver checks (docs/api.md shows the same in a few lines): a v1 signature of
    this body with this timestamp, and the timestamp within `tolerance_s` of now."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance_s and hmac.compare_digest(
        expected, fields.get("v1", "")
    )


def retry_delay_s(attempts: int, *, base_s: float, max_s: float, jitter: float) -> float:
    """Seconds before the next try after `attempts` failed ones: `base_s` doubled each time,
    at most `max_s`, times `jitter` (a random factor the caller draws, e.g. 0.8–1.2) so many
    failed deliveries do not all come back at once."""
    exponent = min(max(attempts - 1, 0), 30)
    return min(base_s * 2.0**exponent, max_s) * jitter


def next_attempt(
    created_at: datetime, now: datetime, delay_s: float, window: timedelta = RETRY_WINDOW
) -> datetime | None:
    """When to try again, or None when that would fall past the retry window (then: failed)."""
    at = now + timedelta(seconds=delay_s)
    return at if at <= created_at + window else None


def iso(at: datetime) -> str:
    """A time as events carry it: UTC, milliseconds, `Z`."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def excerpt(body: bytes | str, limit: int = 300) -> str:
    """The start of a receiver's answer, as the deliveries list shows it."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text if len(text) <= limit else text[:limit] + "…"
