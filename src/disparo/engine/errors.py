"""The engine's errors: why a claimed shot cannot be sent."""

from __future__ import annotations

from disparo.errors import DisparoError


class EngineError(DisparoError):
    """The worker cannot send a claimed shot as stored."""


class BotNotRegisteredError(EngineError):
    """The shot's bot is no longer registered (deleted after the shot was claimed)."""

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"the bot '{slug}' is not registered; register it, then create the shot again"
        )
        self.slug = slug
