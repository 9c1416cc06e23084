"""Quiet hours: a daily span of a bot's local time in which nothing is sent.

`22:00`–`08:00` spans midnight; `13:00`–`14:00` does not; equal ends are refused (a whole day of
silence is a paused bot, not quiet hours). Local times that a daylight-saving change skips or
repeats follow `zoneinfo`'s fold=0 reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from disparo.domain.errors import DomainError

_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class QuietHoursError(DomainError, ValueError):
    """Quiet hours are not two different "HH:MM" times."""


def parse_clock(value: object, name: str) -> time:
    """A "HH:MM" (24 h) time of day; QuietHoursError naming `name` otherwise."""
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise QuietHoursError(f"{name} must be a time of day as HH:MM (24 h), e.g. 22:00")
    return time(int(match[1]), int(match[2]))


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From `start` to `end` (local times of day), every day."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: object, end: object) -> QuietHours:
        """From the stored or requested "HH:MM" strings."""
        quiet = cls(parse_clock(start, "start"), parse_clock(end, "end"))
        if quiet.start == quiet.end:
            raise QuietHoursError("start and end must differ (a bot silent all day is paused)")
        return quiet

    def as_json(self) -> dict[str, str]:
        """`{"start": "HH:MM", "end": "HH:MM"}`."""
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}

    def _inside(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def until(self, now: datetime, timezone: str) -> datetime | None:
        """When the quiet hours that hold at `now` end (UTC); None when `now` is outside them."""
        zone = ZoneInfo(timezone)
        local = now.astimezone(zone)
        if not self._inside(local.time().replace(tzinfo=None)):
            return None
        end_day = local.date()
        if local.time().replace(tzinfo=None) >= self.end:
            end_day += timedelta(days=1)  # in the part before midnight: it ends tomorrow
        end = datetime.combine(end_day, self.end, tzinfo=zone)
        return end.astimezone(UTC)
