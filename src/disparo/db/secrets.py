"""Bot tokens at rest: sealed with Fernet when DISPARO_SECRET_KEY is set, plain otherwise.

A sealed value carries a `fernet:` prefix, so plain tokens stored before a key was configured
still open, and are sealed the next time they are written.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

SEALED_PREFIX = "fernet:"


class SecretKeyError(ValueError):
    """A stored bot token cannot be opened: DISPARO_SECRET_KEY is missing or not the one used."""


class TokenCipher:
    """Seals and opens bot tokens with one Fernet key, or passes them through without one."""

    def __init__(self, key: str | None) -> None:
        try:
            self._fernet = Fernet(key.encode()) if key else None
        except (ValueError, TypeError):
            raise SecretKeyError(
                "DISPARO_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes); "
                "make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            ) from None

    @property
    def encrypts(self) -> bool:
        """True when tokens are stored encrypted."""
        return self._fernet is not None

    def seal(self, token: str) -> str:
        """The value to store for `token`."""
        if self._fernet is None:
            return token
        return SEALED_PREFIX + self._fernet.encrypt(token.encode()).decode()

    def open(self, stored: str) -> str:
        """The token behind a stored value; SecretKeyError when it cannot be decrypted."""
        if not stored.startswith(SEALED_PREFIX):
            return stored
        if self._fernet is None:
            raise SecretKeyError(
                "a bot token is stored encrypted but DISPARO_SECRET_KEY is not set; "
                "set it to the key the token was sealed with"
            )
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "a bot token was sealed with another DISPARO_SECRET_KEY; "
                "set the key it was sealed with"
            ) from None
