"""Every error Disparo raises on purpose derives from its layer's root and from DisparoError,
so callers catch by type; the ones a form field can carry are also ValueErrors."""

from __future__ import annotations

import pytest

from disparo.config import ConfigError
from disparo.db.audience import AudienceError
from disparo.db.errors import StoreError
from disparo.db.secrets import SecretKeyError
from disparo.db.urls import DatabaseURLError
from disparo.db.wake_signal import UnusableDirectoryError
from disparo.domain.copy import CopyError
from disparo.domain.errors import DomainError
from disparo.domain.sending import ShotContentError
from disparo.domain.statuses import TransitionError
from disparo.engine.errors import BotNotRegisteredError, EngineError
from disparo.errors import DisparoError
from disparo.telegram import (
    BotAPI,
    MalformedTokenError,
    MaybeDeliveredError,
    TelegramError,
    Unauthorized,
)


@pytest.mark.parametrize(
    ("error", "root"),
    [
        (ConfigError, ConfigError),
        (CopyError, DomainError),
        (TransitionError, DomainError),
        (AudienceError, StoreError),
        (SecretKeyError, StoreError),
        (DatabaseURLError, StoreError),
        (UnusableDirectoryError, StoreError),
        (BotNotRegisteredError, EngineError),
        (ShotContentError, DomainError),
        (MalformedTokenError, TelegramError),
        (Unauthorized, TelegramError),
        (MaybeDeliveredError, TelegramError),
    ],
)
def test_each_error_has_its_layer_root(error: type[Exception], root: type[Exception]) -> None:
    """The layer root, then DisparoError above it."""
    assert issubclass(error, root)
    assert issubclass(root, DisparoError)


def test_a_malformed_token_is_its_own_type_and_never_echoed() -> None:
    """Bot() refuses a token of the wrong shape with MalformedTokenError, naming the shape."""
    with pytest.raises(MalformedTokenError, match="<bot id>:<secret>") as refused:
        BotAPI("http://127.0.0.1:9").bot("secret-value-not-a-token")
    assert "secret-value" not in str(refused.value)


def test_a_missing_bot_says_what_to_do() -> None:
    """BotNotRegisteredError names the bot and the remedy, nothing about tokens."""
    error = BotNotRegisteredError("loja")
    assert str(error) == "the bot 'loja' is not registered; register it, then create the shot again"
    assert error.slug == "loja"
