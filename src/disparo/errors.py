"""The root of every error Disparo raises on purpose.

Each layer has its own root below `DisparoError`, and code raises and catches errors by type,
never by message or by a built-in such as `ValueError`:

- `disparo.config.ConfigError`: a setting is missing or invalid;
- `disparo.domain.errors.DomainError`: a shot's content cannot be sent, or an operator's action
  is refused;
- `disparo.db.errors.StoreError`: stored data or the database URL cannot be used;
- `disparo.engine.errors.EngineError`: the worker cannot send a claimed shot;
- `disparo.telegram.TelegramError`: a Bot API request failed or cannot be made.

Errors that a form field can carry also derive from `ValueError`, so that a validator raising
one reports it as that field's error.
"""

from __future__ import annotations


class DisparoError(Exception):
    """An error Disparo raises on purpose; its message says what is wrong and what to do."""
