"""Recall and edit of a shot's delivered messages: the Bot API calls for one recipient, and
what each of Telegram's answers means for it.

A recall deletes the message that carries the copy and, for an audio shot, the audio before it
(`deleteMessage`; Telegram lets a bot delete its messages in a private chat for 48 hours, so an
older one is `too_old` without a call). An edit changes the copy and/or the buttons of the
message that carries the copy: `editMessageText` for a text (and an audio shot's copy),
`editMessageCaption` for a photo or video, `editMessageReplyMarkup` when only the buttons change;
media are never replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from disparo.domain.outcomes import Action, Failure, FailureKind, classify
from disparo.domain.sending import NO_PREVIEW, Step
from disparo.domain.statuses import MediaType

DELETE_WINDOW = timedelta(hours=48)


class JobKind(StrEnum):
    """What a job does to the shot's delivered messages."""

    RECALL = "recall"
    EDIT = "edit"


class JobStatus(StrEnum):
    """Life cycle of a job (a `shot_jobs` row)."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    ERROR = "error"


ACTIVE_JOB_STATUSES = frozenset({JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED})


class ItemStatus(StrEnum):
    """Life cycle of one recipient's message in a job, as a delivery's."""

    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    SKIPPED = "skipped"
    ERROR = "error"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """What happened to one recipient's message."""

    DELETED = "deleted"
    EDITED = "edited"
    UNCHANGED = "unchanged"  # the edit asked for what the message already was
    GONE = "gone"  # the message no longer exists (the user deleted the chat or the message)
    TOO_OLD = "too_old"  # older than Telegram lets a bot delete: not tried, or refused
    DEACTIVATED = "deactivated"
    CANCELLED = "cancelled"
    ERROR = "error"
    UNKNOWN = "unknown"  # the request may or may not have arrived: never repeated


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do after an answer: record (status, outcome, error), retry, pause, or stop."""

    action: Action
    status: ItemStatus | None = None
    outcome: Outcome | None = None
    error: str | None = None
    retry_after_s: float | None = None


# Telegram's descriptions (the simulator copies them), lower-cased.
_GONE = ("message to delete not found", "message to edit not found")
_TOO_OLD = "message can't be deleted"
_UNCHANGED = "message is not modified"
_DEACTIVATED = "user is deactivated"


def verdict(failure: Failure, *, tries: int = 1, rate_limited_tries: int = 0) -> Verdict:
    """The verdict for a failed delete or edit; `tries` counts this one."""
    lowered = failure.description.lower()
    if failure.kind is FailureKind.API and failure.error_code in (400, 403):
        if any(text in lowered for text in _GONE):
            return Verdict(Action.RECORD, ItemStatus.SKIPPED, Outcome.GONE, failure.description)
        if _TOO_OLD in lowered:
            return Verdict(Action.RECORD, ItemStatus.SKIPPED, Outcome.TOO_OLD, failure.description)
        if _UNCHANGED in lowered:
            return Verdict(Action.RECORD, ItemStatus.DONE, Outcome.UNCHANGED)
        if _DEACTIVATED in lowered:
            return Verdict(
                Action.RECORD, ItemStatus.SKIPPED, Outcome.DEACTIVATED, failure.description
            )
    sending = classify(failure, tries=tries, rate_limited_tries=rate_limited_tries)
    if sending.action is Action.RECORD:
        unknown = failure.kind is FailureKind.MAYBE_DELIVERED
        status, outcome = (
            (ItemStatus.UNKNOWN, Outcome.UNKNOWN) if unknown else (ItemStatus.ERROR, Outcome.ERROR)
        )
        return Verdict(Action.RECORD, status, outcome, sending.error)
    if sending.action is Action.STOP_SHOT:  # checked before the job was accepted: record it
        return Verdict(Action.RECORD, ItemStatus.ERROR, Outcome.ERROR, sending.error)
    return Verdict(sending.action, error=sending.error, retry_after_s=sending.retry_after_s)


def recall_steps(message_id: int, audio_message_id: int | None) -> tuple[Step, ...]:
    """Delete the copy's message, then an audio shot's audio."""
    ids = [message_id] + ([audio_message_id] if audio_message_id else [])
    return tuple(Step("deleteMessage", {"message_id": i}, carries_copy=False) for i in ids)


def edit_step(message_id: int, media_type: str, new: Step, *, copy: bool) -> Step:
    """The call that turns message `message_id` into `new` (the delivery step that carries the
    copy, built from the edited content): its copy and buttons, or only its buttons. Telegram
    drops the buttons of a message edited without them, so they are always sent as wanted."""
    markup: Any = new.params.get("reply_markup")
    fields: dict[str, Any] = {"message_id": message_id}
    if not copy:
        method = "editMessageReplyMarkup"
    elif MediaType(media_type) in (MediaType.PHOTO, MediaType.VIDEO):
        method = "editMessageCaption"
        fields |= {"caption": new.params["caption"], "parse_mode": "HTML"}
    else:
        method = "editMessageText"
        fields |= {
            "text": new.params["text"],
            "parse_mode": "HTML",
            "link_preview_options": NO_PREVIEW,
        }
    if markup is not None:
        fields["reply_markup"] = markup
    return Step(method, fields, carries_copy=copy)
