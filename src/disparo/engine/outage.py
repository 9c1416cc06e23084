"""A database outage, told once: when it began, reminders while it lasts, when it ended.

Each loop that talks to the database (claims, leases, reservations, outcome writes) keeps one
`Outage`. A failure that means "the database is away" logs a single warning, then a reminder
every `remind_every_s`, then one line when a call succeeds again; in between, the loop backs
off (`backoff_s`) instead of retrying at full speed. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import logging

from disparo.db.engine import is_unavailable
from disparo.engine.clock import Clock

log = logging.getLogger("disparo.engine")

FIRST_BACKOFF_S = 0.25
BACKOFF_CAP_S = 5.0
REMIND_EVERY_S = 30.0


class Outage:
    """The database failures of one loop (`what` names it in the log lines)."""

    def __init__(
        self,
        what: str,
        clock: Clock,
        *,
        first_backoff_s: float = FIRST_BACKOFF_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        remind_every_s: float = REMIND_EVERY_S,
    ) -> None:
        self.what = what
        self._clock = clock
        self._first_s = first_backoff_s
        self._cap_s = backoff_cap_s
        self._remind_s = remind_every_s
        self.failures = 0
        self._since = 0.0
        self._told = 0.0

    @property
    def down(self) -> bool:
        """True between a failure and the next success."""
        return self.failures > 0

    def backoff_s(self) -> float:
        """How long to wait before the next try: doubling from the first, up to the cap."""
        if not self.failures:
            return 0.0
        return float(min(self._cap_s, self._first_s * 2.0 ** (self.failures - 1)))

    def failed(self, exc: BaseException, **extra: object) -> float:
        """Count a failure and log it as the outage's news; the seconds to back off."""
        now = self._clock.monotonic()
        if not is_unavailable(exc):
            log.error("[SHOTS][WORKER] could not %s", self.what, exc_info=exc, extra=dict(extra))
            return self._first_s
        self.failures += 1
        if self.failures == 1:
            self._since = self._told = now
            log.warning(
                "[SHOTS][WORKER] database unavailable; could not %s, retrying",
                self.what,
                extra={"error": _describe(exc), "retry_in_s": self.backoff_s(), **extra},
            )
        elif now - self._told >= self._remind_s:
            self._told = now
            log.warning(
                "[SHOTS][WORKER] database still unavailable; could not %s, retrying",
                self.what,
                extra={
                    "error": _describe(exc),
                    "down_s": round(now - self._since, 1),
                    "failures": self.failures,
                    "retry_in_s": self.backoff_s(),
                    **extra,
                },
            )
        return self.backoff_s()

    def succeeded(self) -> None:
        """A call worked: if an outage was on, say it ended and how long it lasted."""
        if not self.failures:
            return
        log.info(
            "[SHOTS][WORKER] database reachable again; %s resumed",
            self.what,
            extra={
                "down_s": round(self._clock.monotonic() - self._since, 1),
                "failures": self.failures,
            },
        )
        self.failures = 0


def _describe(exc: BaseException) -> str:
    """The error's type and first line, without the SQL or the parameters."""
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = first[0][:200] if first else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
