"""Bot tokens and webhook secrets at rest: sealed with Fernet when DISPARO_SECRET_KEY is set,
plain otherwise.

A sealed value carries a `fernet:` prefix, so plain values stored before a key was configured
still open, and are sealed the next time they are written (or by `disparo rotate-key`).
The first key of DISPARO_SECRET_KEY seals; every key of DISPARO_SECRET_KEY and of
DISPARO_OLD_SECRET_KEY (both comma-separated lists) opens, which is how a key is rotated.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from disparo.db.errors import StoreError

SEALED_PREFIX = "fernet:"
KEYGEN_HINT = "make one with `disparo keygen`"


class SecretKeyError(StoreError, ValueError):
    """A stored bot token or webhook secret cannot be opened: DISPARO_SECRET_KEY is missing or
    not the one used."""


def generate_key() -> str:
    """A new random key for DISPARO_SECRET_KEY."""
    return Fernet.generate_key().decode()


def _fernets(keys: str | None, variable: str) -> list[Fernet]:
    fernets = []
    for position, key in enumerate((keys or "").split(","), start=1):
        if not key.strip():
            continue
        try:
            fernets.append(Fernet(key.strip().encode()))
        except (ValueError, TypeError):  # never echo the value: it is a secret
            raise SecretKeyError(
                f"{variable} is not a Fernet key (32 url-safe base64-encoded bytes; key "
                f"{position} of the comma-separated list is not one); {KEYGEN_HINT}"
            ) from None
    return fernets


class TokenCipher:
    """Seals bot tokens and webhook secrets with one Fernet key and opens them with any of
    several, or passes them through when no key is configured."""

    def __init__(self, key: str | None, old_keys: str | None = None) -> None:
        sealing = _fernets(key, "DISPARO_SECRET_KEY")
        opening = _fernets(old_keys, "DISPARO_OLD_SECRET_KEY")
        if opening and not sealing:
            raise SecretKeyError(
                "DISPARO_OLD_SECRET_KEY is set but DISPARO_SECRET_KEY is not; set "
                f"DISPARO_SECRET_KEY to the new key ({KEYGEN_HINT})"
            )
        self._fernet = MultiFernet(sealing + opening) if sealing else None

    @property
    def encrypts(self) -> bool:
        """True when tokens and webhook secrets are stored encrypted."""
        return self._fernet is not None

    def seal(self, secret: str) -> str:
        """The value to store for `secret` (a bot token or a webhook secret)."""
        if self._fernet is None:
            return secret
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret behind a stored value; SecretKeyError when it cannot be decrypted."""
        if not stored.startswith(SEALED_PREFIX):
            return stored
        if self._fernet is None:
            raise SecretKeyError(
                "a bot token or webhook secret is stored encrypted but DISPARO_SECRET_KEY is "
                "not set; set it to the key it was sealed with"
            )
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "a bot token or webhook secret was sealed with another DISPARO_SECRET_KEY; "
                "set the key it was sealed with"
            ) from None

    @staticmethod
    def sealed(stored: str) -> bool:
        """True when a stored value is sealed (False for one stored in plain text)."""
        return stored.startswith(SEALED_PREFIX)

    def opens(self, stored: str) -> bool:
        """True when `open` would succeed."""
        try:
            self.open(stored)
        except SecretKeyError:
            return False
        return True
