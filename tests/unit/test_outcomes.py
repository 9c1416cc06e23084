"""Classification of Telegram answers into delivery outcomes and engine actions."""

from __future__ import annotations

import pytest

from disparo.domain.outcomes import (
    MAX_RATE_LIMITED_TRIES,
    MAX_TRANSIENT_TRIES,
    Action,
    ErrorStreak,
    Failure,
    FailureKind,
    Reason,
    classify,
    content_error_hint,
    shot_error_message,
)
from disparo.domain.statuses import ChatState, DeliveryStatus

API = FailureKind.API


def api(code: int, description: str, retry_after_s: float | None = None) -> Failure:
    return Failure(API, code, description, retry_after_s)


def test_blocked_is_skipped_and_prunes_the_contact() -> None:
    """403 'bot was blocked by the user' skips the recipient and marks the contact blocked."""
    verdict = classify(api(403, "Forbidden: bot was blocked by the user"))
    assert verdict.action is Action.RECORD
    assert verdict.outcome is DeliveryStatus.SKIPPED
    assert verdict.reason is Reason.BLOCKED
    assert verdict.chat_state is ChatState.BLOCKED


def test_deactivated_is_skipped_and_prunes_the_contact() -> None:
    """403 'user is deactivated' skips the recipient and marks the contact deactivated."""
    verdict = classify(api(403, "Forbidden: user is deactivated"))
    assert (verdict.outcome, verdict.reason) == (DeliveryStatus.SKIPPED, Reason.DEACTIVATED)
    assert verdict.chat_state is ChatState.DEACTIVATED


@pytest.mark.parametrize(
    "description",
    ["Bad Request: chat not found", "Bad Request: PEER_ID_INVALID", "Bad Request: user not found"],
)
def test_unknown_chat_is_skipped_without_touching_the_contact(description: str) -> None:
    """400 'chat not found' and its kin skip the recipient as chat_not_found."""
    verdict = classify(api(400, description))
    assert (verdict.action, verdict.outcome) == (Action.RECORD, DeliveryStatus.SKIPPED)
    assert verdict.reason is Reason.CHAT_NOT_FOUND
    assert verdict.chat_state is None


def test_other_forbidden_answers_are_skipped() -> None:
    """A 403 that is neither blocked nor deactivated still skips, with reason forbidden."""
    verdict = classify(api(403, "Forbidden: bot was kicked from the group chat"))
    assert (verdict.outcome, verdict.reason) == (DeliveryStatus.SKIPPED, Reason.FORBIDDEN)


def test_too_many_requests_pauses_the_bot_for_retry_after() -> None:
    """429 pauses the whole bot for retry_after and retries the recipient (no outcome yet)."""
    verdict = classify(api(429, "Too Many Requests: retry after 7", 7))
    assert verdict.action is Action.PAUSE_BOT
    assert verdict.outcome is None
    assert verdict.retry_after_s == 7


def test_endless_rate_limits_give_up_the_recipient() -> None:
    """A recipient refused with 429 too many times ends as an error instead of looping."""
    verdict = classify(api(429, "Too Many Requests", 1), rate_limited_tries=MAX_RATE_LIMITED_TRIES)
    assert (verdict.action, verdict.outcome) == (Action.RECORD, DeliveryStatus.ERROR)


@pytest.mark.parametrize(
    "failure",
    [api(502, "Bad Gateway"), Failure(FailureKind.NOT_DELIVERED, description="refused")],
)
def test_transient_failures_retry_then_error(failure: Failure) -> None:
    """5xx and connect failures retry until the budget is spent, then record an error."""
    for tries in range(1, MAX_TRANSIENT_TRIES):
        assert classify(failure, tries=tries).action is Action.RETRY
    final = classify(failure, tries=MAX_TRANSIENT_TRIES)
    assert (final.action, final.outcome) == (Action.RECORD, DeliveryStatus.ERROR)
    assert final.error is not None
    assert "3 tries" in final.error


def test_timeout_after_sending_is_unknown_and_never_retried() -> None:
    """MaybeDelivered becomes outcome unknown at once, whatever the try count."""
    verdict = classify(Failure(FailureKind.MAYBE_DELIVERED, description="timed out"), tries=1)
    assert (verdict.action, verdict.outcome) == (Action.RECORD, DeliveryStatus.UNKNOWN)


@pytest.mark.parametrize(
    "description",
    [
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        "Bad Request: message is too long",
        "Bad Request: message caption is too long",
        "Bad Request: wrong file identifier/HTTP URL specified",
        "Bad Request: failed to get HTTP URL content",
        "Bad Request: BUTTON_URL_INVALID",
    ],
)
def test_content_errors_stop_the_shot(description: str) -> None:
    """A 400 about the copy, the media or the buttons stops the shot instead of failing each."""
    verdict = classify(api(400, description))
    assert verdict.action is Action.STOP_SHOT
    assert verdict.reason is Reason.CONTENT
    assert content_error_hint(description)
    assert description in shot_error_message(description)


def test_revoked_token_stops_the_bot() -> None:
    """401 stops every shot of the bot."""
    assert classify(api(401, "Unauthorized")).action is Action.STOP_BOT


def test_unexplained_error_is_recorded_for_the_recipient() -> None:
    """An unknown 400 is that recipient's error; the shot goes on."""
    verdict = classify(api(400, "Bad Request: something new"))
    assert (verdict.action, verdict.outcome) == (Action.RECORD, DeliveryStatus.ERROR)
    assert verdict.error == "Bad Request: something new"


def test_error_streak_stops_after_identical_errors_only() -> None:
    """The same error many times in a row trips the streak; any other outcome resets it."""
    streak = ErrorStreak(limit=3)
    assert not streak.observe("x")
    assert not streak.observe("x")
    assert not streak.observe(None)
    assert not streak.observe("x")
    assert not streak.observe("y")
    assert not streak.observe("y")
    assert streak.observe("y")
