"""The send-time rules of one shot as its sender applies them: the shot ends once its
`expires_at` passed, nothing is reserved inside the bot's quiet hours, and each reservation gets
the frequency cap and the stop-on-conversion as values of its instant (`ReservationRules`).

The sender asks before its snapshot and before each reservation (`RuleGate.clear`); the
reservation's SQL does the per-recipient checks (`db/reservation.py`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from disparo.db.bots import BotRecord
from disparo.db.leases import ClaimedShot
from disparo.db.reservation import NO_RULES, ReservationRules
from disparo.domain.quiet_hours import QuietHours
from disparo.domain.statuses import StopOn
from disparo.engine.clock import Clock
from disparo.engine.limiter import wait_any

log = logging.getLogger("disparo.engine")


@dataclass(frozen=True, slots=True)
class ShotRules:
    """What the send-time rules of one shot and its bot say, as values."""

    expires_at: datetime | None = None
    quiet: QuietHours | None = None
    timezone: str = "UTC"  # the bot's: its quiet hours are local times there
    cap_max: int | None = None  # None: no cap (the bot has none, or the shot ignores it)
    cap_window: timedelta | None = None
    stop_on: StopOn | None = None
    created_at: datetime | None = None  # conversions count from then on
    undecided: bool = False  # winner mode before its decision: the remainder waits

    @classmethod
    def of(cls, shot: ClaimedShot, bot: BotRecord | None = None) -> ShotRules:
        """The rules of `shot` sent by `bot` (without a bot: the shot's own rules only);
        QuietHoursError if the bot's quiet hours, as stored, do not parse."""
        rules = cls(
            expires_at=shot.expires_at,
            stop_on=StopOn(shot.stop_on) if shot.stop_on is not None else None,
            created_at=shot.created_at,
            undecided=shot.undecided,
        )
        if bot is None:
            return rules
        quiet = None
        if bot.quiet_hours_start is not None and bot.quiet_hours_end is not None:
            quiet = QuietHours.parse(bot.quiet_hours_start, bot.quiet_hours_end)
        cap_max, window_h = bot.max_shots_per_contact, bot.cap_window_hours
        if cap_max is None or window_h is None or shot.ignore_frequency_cap:
            return replace(rules, quiet=quiet, timezone=bot.timezone)
        window = timedelta(hours=window_h)
        return replace(
            rules, quiet=quiet, timezone=bot.timezone, cap_max=cap_max, cap_window=window
        )

    @property
    def screens(self) -> bool:
        """True when a reservation checks recipients against a rule (cap or stop-on)."""
        return self.cap_max is not None or self.stop_on is not None or self.undecided

    def expired(self, now: datetime) -> bool:
        """True once the shot's expires_at passed."""
        return self.expires_at is not None and now >= self.expires_at

    def quiet_until(self, now: datetime) -> datetime | None:
        """When the quiet hours holding at `now` end (UTC); None outside them."""
        return None if self.quiet is None else self.quiet.until(now, self.timezone)

    def reservation(self, now: datetime) -> ReservationRules:
        """The rules a reservation at `now` checks."""
        if not self.screens:
            return NO_RULES
        cap_since = None
        if self.cap_max is not None and self.cap_window is not None:
            cap_since = now - self.cap_window
        return ReservationRules(
            cap_max=self.cap_max if cap_since is not None else None,
            cap_since=cap_since,
            stop_on=self.stop_on,
            converted_since=self.created_at if self.stop_on is not None else None,
            undecided=self.undecided,
        )


class RuleGate:
    """Holds a sender back while its bot's quiet hours last, and says when its shot expired."""

    def __init__(self, rules: ShotRules, clock: Clock, *, shot_id: int, bot_slug: str) -> None:
        self.rules, self.clock = rules, clock
        self.shot_id, self.bot_slug = shot_id, bot_slug
        self._waiting_until: datetime | None = None

    async def clear(self, stop: asyncio.Event) -> bool:
        """Return once the sender may go on: outside quiet hours (waiting for their end if
        inside), or at once when `stop` is set. False when the shot expired (before or while
        waiting)."""
        rules = self.rules
        while not stop.is_set():
            now = self.clock.now()
            if rules.expired(now):
                return False
            until = rules.quiet_until(now)
            if until is None:
                self._waiting_until = None
                return True
            if until != self._waiting_until:  # once per quiet period
                self._waiting_until = until
                log.info(
                    "[SHOTS][SENDER] quiet hours: waiting until %s",
                    until.isoformat(),
                    extra={"shot_id": self.shot_id, "bot_slug": self.bot_slug},
                )
            wake = until if rules.expires_at is None else min(until, rules.expires_at)
            await wait_any(stop, within_s=(wake - now).total_seconds())
        return True
