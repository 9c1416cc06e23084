"""Every failure of a Bot API call surfaces as its own typed error, produced by a real server."""

from __future__ import annotations

import pickle

import pytest
from telegram_fake import SCENARIOS, TOKEN, FakeTelegram, provoke

from disparo.telegram import errors
from disparo.telegram.errors import (
    MaybeDeliveredError,
    NetworkError,
    NotDeliveredError,
    TelegramAPIError,
    TelegramError,
    TooManyRequests,
)

URL_WITH_TOKEN = f"http://127.0.0.1:1/bot{TOKEN}/sendMessage"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_each_failure_raises_its_class(
    fake_telegram: FakeTelegram, closed_port: int, scenario: str
) -> None:
    """A canned answer or transport fault maps to exactly one error class."""
    raised = await provoke(fake_telegram, scenario, closed_port)
    expected = SCENARIOS[scenario]
    if expected is None:
        assert raised is None
    else:
        assert type(raised) is expected, repr(raised)
        assert "sendMessage on 127.0.0.1:" in str(raised)


async def test_api_error_carries_telegram_fields(
    fake_telegram: FakeTelegram, closed_port: int
) -> None:
    """ok:false answers keep error_code, description, retry_after and the method."""
    raised = await provoke(fake_telegram, "429", closed_port)
    assert isinstance(raised, TooManyRequests)
    assert raised.error_code == 429
    assert raised.retry_after == 7
    assert raised.description == "Too Many Requests: retry after 7"
    assert raised.method == "sendMessage"
    assert raised.migrate_to_chat_id is None
    assert "429 Too Many Requests: retry after 7" in str(raised)


async def test_migrated_chat_id_is_kept(fake_telegram: FakeTelegram, closed_port: int) -> None:
    """A 400 for a group upgraded to a supergroup carries the new chat id."""
    raised = await provoke(fake_telegram, "400-migrated", closed_port)
    assert isinstance(raised, errors.BadRequest)
    assert raised.migrate_to_chat_id == -1001234567890


async def test_proxy_html_502_is_a_server_error(
    fake_telegram: FakeTelegram, closed_port: int
) -> None:
    """A non-JSON 5xx becomes ServerError with the HTTP status as error_code."""
    raised = await provoke(fake_telegram, "502-html", closed_port)
    assert isinstance(raised, errors.ServerError)
    assert raised.error_code == 502
    assert "not Bot API JSON" in raised.description


def test_delivery_classes_are_distinct() -> None:
    """NotDelivered and MaybeDelivered are both network errors and never each other."""
    assert issubclass(NotDeliveredError, NetworkError)
    assert issubclass(MaybeDeliveredError, NetworkError)
    assert not issubclass(NotDeliveredError, MaybeDeliveredError)
    assert not issubclass(MaybeDeliveredError, NotDeliveredError)
    assert not issubclass(NetworkError, TelegramAPIError)


@pytest.mark.parametrize(
    "cls",
    [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, TelegramError)
    ],
)
def test_docstring_is_the_default_message(cls: type[TelegramError]) -> None:
    """Each error class, raised without a message, says what its docstring says."""
    assert cls.__doc__
    assert str(cls()) == " ".join(cls.__doc__.split())


def test_api_errors_survive_pickling() -> None:
    """Typed errors cross process boundaries with their fields intact."""
    error = TooManyRequests(
        method="sendMessage", host="h", error_code=429, description="slow down", retry_after=3
    )
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is TooManyRequests
    assert (copy.retry_after, copy.description, str(copy)) == (3, "slow down", str(error))
