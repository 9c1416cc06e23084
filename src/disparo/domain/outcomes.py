"""What a Telegram answer means for one delivery: its outcome, its reason and what to do next.

Pure: the engine turns the client's exception into a `Failure` of plain values and acts on the
`Verdict`. The descriptions matched here are Telegram's own (the simulator copies them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from disparo.domain.statuses import ChatState, DeliveryStatus

MAX_TRANSIENT_TRIES = 3  # a 5xx or a refused connection: this many tries in all, then error
MAX_RATE_LIMITED_TRIES = 20  # a recipient answered 429 this often is given up as an error
SAME_ERROR_STREAK_LIMIT = 25  # this many identical unexplained errors in a row stop the shot


class FailureKind(StrEnum):
    """How a request failed, as far as delivery is concerned."""

    API = "api"  # Telegram answered ok=false with an error code and a description
    NOT_DELIVERED = "not_delivered"  # the request surely never left (no connection)
    MAYBE_DELIVERED = "maybe_delivered"  # sent, but no answer: delivery is unknown


class Action(StrEnum):
    """What the engine does after an answer."""

    RECORD = "record"  # the delivery has its final outcome
    RETRY = "retry"  # try the same recipient again after a backoff (counts as a try)
    PAUSE_BOT = "pause_bot"  # 429: pause the whole bot, retry the recipient (not a failure)
    STOP_SHOT = "stop_shot"  # the shot's content is wrong: stop it with a clear error
    STOP_BOT = "stop_bot"  # the token is revoked: stop every shot of the bot


class Reason(StrEnum):
    """Why a delivery was skipped (or why a shot stopped)."""

    BLOCKED = "blocked"
    DEACTIVATED = "deactivated"
    CHAT_NOT_FOUND = "chat_not_found"
    INELIGIBLE = "ineligible"
    CANCELLED = "cancelled"
    FORBIDDEN = "forbidden"
    WORKER_LOST = "worker_lost"  # reserved by a worker that died; the rescue marked it unknown
    UNACCOUNTED = "unaccounted"  # still reserved when its own worker settled the shot: unknown
    TIMEOUT = "timeout"
    CONTENT = "content"
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - a reason, not a secret
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    FREQUENCY_CAP = "frequency_cap"  # the bot's cap on shots per contact was reached
    EXPIRED = "expired"  # the shot's expires_at passed before it was sent
    CONVERTED = "converted"  # the recipient did the shot's stop_on after it was created
    TOO_LONG = "too_long"  # the copy rendered with this recipient's values passes the limit


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed request as plain values: the kind, and Telegram's answer when there was one."""

    kind: FailureKind
    error_code: int = 0
    description: str = ""
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one failed request."""

    action: Action
    outcome: DeliveryStatus | None = None  # the final outcome, unless the action retries
    reason: Reason | None = None
    error: str | None = None  # Telegram's description (or ours), recorded on the delivery
    chat_state: ChatState | None = None  # the contact's new state, when the answer proves it
    retry_after_s: float | None = None  # how long the bot pauses (429)


# Descriptions (lower case) of a 400 that means the shot itself is wrong, with how to fix it.
_CONTENT_ERRORS: tuple[tuple[str, str], ...] = (
    ("can't parse entities", "fix the HTML of the copy (tags, nesting, escaped < > &)"),
    ("message is too long", "shorten the copy to at most 4096 characters"),
    (
        "caption is too long",
        "shorten the copy to at most 1024 characters (Telegram's limit for a media caption) "
        "or send it without media",
    ),
    ("media_caption_too_long", "shorten the copy to at most 1024 characters"),
    ("message text is empty", "write a copy"),
    ("text must be non-empty", "write a copy"),
    ("wrong file identifier", "check media_url: a public http(s) URL of the file or a file_id"),
    ("wrong remote file identifier", "check media_url: a public http(s) URL or a file_id"),
    ("failed to get http url content", "check media_url: Telegram could not download it"),
    ("wrong type of the web page content", "check media_url and media_type: they disagree"),
    ("invalid file http url", "check media_url: a public http(s) URL"),
    ("wrong http url", "check media_url: a public http(s) URL"),
    ("unsupported url protocol", "check media_url: only http(s) URLs are accepted"),
    ("webpage_curl_failed", "check media_url: Telegram could not download it"),
    ("webpage_media_empty", "check media_url: it has no media Telegram can use"),
    ("image_process_failed", "check media_url: Telegram could not read the image"),
    ("photo_invalid_dimensions", "check media_url: the photo's size is not accepted"),
    ("button_url_invalid", "fix the buttons: each URL must be a valid http(s) or tg:// URL"),
    ("button_data_invalid", "fix the buttons"),
    ("button_type_invalid", "fix the buttons"),
    ("can't parse inline keyboard button", "fix the buttons: each needs a text and a url"),
    ("reply markup is too long", "use fewer or shorter buttons"),
    ("can't parse reply keyboard markup", "fix the buttons: [[{text, url}]]"),
)

# Descriptions of a 400 that mean this recipient cannot be reached (not the shot's fault).
_UNREACHABLE_400 = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "chat_write_forbidden",
    "have no rights to send",
    "not enough rights",
    "group chat was upgraded",
    "user_is_bot",
)


def content_error_hint(description: str) -> str | None:
    """How to fix the shot when `description` is a content error; None when it is not one."""
    lowered = description.lower()
    for needle, hint in _CONTENT_ERRORS:
        if needle in lowered:
            return hint
    return None


def shot_error_message(description: str) -> str:
    """The shot's `last_error` for a content error: what Telegram said and what to fix."""
    hint = content_error_hint(description) or "fix the shot's copy, media or buttons"
    return f"Telegram refused the shot's content: {description} - {hint}, then create it again"


REVOKED_BOT_MESSAGE = (
    "Telegram refused the bot's token (401 Unauthorized): it was revoked or changed in "
    "@BotFather; update the bot's token, then create the shot again"
)


def classify(failure: Failure, *, tries: int = 1, rate_limited_tries: int = 0) -> Verdict:
    """The verdict for a failed request; `tries` counts this one (5xx/connect retry budget)."""
    if failure.kind is FailureKind.MAYBE_DELIVERED:
        return Verdict(
            Action.RECORD,
            DeliveryStatus.UNKNOWN,
            Reason.TIMEOUT,
            failure.description or "no answer after the request was sent",
        )
    if failure.kind is FailureKind.NOT_DELIVERED:
        return _transient(failure, tries)
    code, description = failure.error_code, failure.description
    lowered = description.lower()
    if code == 429:
        if rate_limited_tries >= MAX_RATE_LIMITED_TRIES:
            return Verdict(Action.RECORD, DeliveryStatus.ERROR, Reason.RATE_LIMITED, description)
        return Verdict(Action.PAUSE_BOT, retry_after_s=max(1.0, failure.retry_after_s or 1.0))
    if code >= 500:
        return _transient(failure, tries)
    if code == 401:
        return Verdict(Action.STOP_BOT, DeliveryStatus.ERROR, Reason.TOKEN_REVOKED, description)
    if code == 403:
        return _forbidden(description, lowered)
    if code == 400:
        if any(needle in lowered for needle in _UNREACHABLE_400):
            return Verdict(
                Action.RECORD, DeliveryStatus.SKIPPED, Reason.CHAT_NOT_FOUND, description
            )
        if content_error_hint(description) is not None:
            return Verdict(Action.STOP_SHOT, DeliveryStatus.ERROR, Reason.CONTENT, description)
    if code == 404:
        # The method or the bot does not exist on this server: the base URL or token is wrong.
        return Verdict(Action.STOP_BOT, DeliveryStatus.ERROR, Reason.TOKEN_REVOKED, description)
    return Verdict(Action.RECORD, DeliveryStatus.ERROR, None, description)


def _forbidden(description: str, lowered: str) -> Verdict:
    if "blocked" in lowered:
        return Verdict(
            Action.RECORD,
            DeliveryStatus.SKIPPED,
            Reason.BLOCKED,
            description,
            chat_state=ChatState.BLOCKED,
        )
    if "deactivated" in lowered:
        return Verdict(
            Action.RECORD,
            DeliveryStatus.SKIPPED,
            Reason.DEACTIVATED,
            description,
            chat_state=ChatState.DEACTIVATED,
        )
    if "can't initiate" in lowered or "chat not found" in lowered:
        return Verdict(Action.RECORD, DeliveryStatus.SKIPPED, Reason.CHAT_NOT_FOUND, description)
    return Verdict(Action.RECORD, DeliveryStatus.SKIPPED, Reason.FORBIDDEN, description)


def _transient(failure: Failure, tries: int) -> Verdict:
    description = failure.description or "the Bot API server failed"
    if tries >= MAX_TRANSIENT_TRIES:
        return Verdict(
            Action.RECORD,
            DeliveryStatus.ERROR,
            Reason.SERVER_ERROR,
            f"{description} (gave up after {tries} tries)",
        )
    return Verdict(Action.RETRY, error=description)


class ErrorStreak:
    """Notices the same unexplained error hitting every recipient, so the shot stops early.

    A content error Telegram words in a way `classify` does not know would otherwise fail the
    whole audience one by one. Any other outcome resets the streak.
    """

    __slots__ = ("_count", "_last", "limit")

    def __init__(self, limit: int = SAME_ERROR_STREAK_LIMIT) -> None:
        self.limit = limit
        self._last: str | None = None
        self._count = 0

    def observe(self, error: str | None) -> bool:
        """Count an outcome (`error` None for anything but a plain error); True means stop."""
        if error is None:
            self._last, self._count = None, 0
            return False
        if error == self._last:
            self._count += 1
        else:
            self._last, self._count = error, 1
        return self._count >= self.limit
