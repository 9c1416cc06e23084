"""The domain layer's error root."""

from __future__ import annotations

from disparo.errors import DisparoError


class DomainError(DisparoError, ValueError):
    """A shot's content or an operator's action breaks a rule of the domain."""
