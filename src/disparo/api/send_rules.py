"""A bot's send-time rules in the API: the frequency cap and quiet hours, checked and shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from disparo.api.errors import invalid
from disparo.db.bots import BotRecord, BotRules
from disparo.domain.quiet_hours import QuietHours, QuietHoursError

RULE_FIELDS = ("max_shots_per_contact", "cap_window_hours", "quiet_hours")


def quiet_hours_of(bot: BotRecord | BotRules) -> QuietHours | None:
    """The bot's quiet hours, or None when it has none."""
    if bot.quiet_hours_start is None or bot.quiet_hours_end is None:
        return None
    return QuietHours.parse(bot.quiet_hours_start, bot.quiet_hours_end)


def rules_out(bot: BotRecord) -> dict[str, Any]:
    """The rule fields of a bot's response body."""
    quiet = quiet_hours_of(bot)
    return {
        "max_shots_per_contact": bot.max_shots_per_contact,
        "cap_window_hours": bot.cap_window_hours,
        "quiet_hours": None if quiet is None else quiet.as_json(),
    }


def rule_changes(given: dict[str, Any], bot: BotRecord | None = None) -> dict[str, Any]:
    """The columns to store for the rule fields in `given` (a request body's set fields), after
    checking them against each other and what `bot` already has; 422 naming the field."""
    changes: dict[str, Any] = {}
    cap_fields = {"max_shots_per_contact", "cap_window_hours"} & given.keys()
    if cap_fields:
        cap = {
            "max_shots_per_contact": bot.max_shots_per_contact if bot else None,
            "cap_window_hours": bot.cap_window_hours if bot else None,
        }
        cap.update({name: given[name] for name in cap_fields})
        if (cap["max_shots_per_contact"] is None) != (cap["cap_window_hours"] is None):
            missing = min(name for name, value in cap.items() if value is None)
            raise invalid(
                missing,
                "the frequency cap needs both max_shots_per_contact and cap_window_hours "
                "(e.g. 2 shots within 24 hours); set both to null to switch it off",
            )
        changes.update(cap)
    if "quiet_hours" in given:
        quiet = given["quiet_hours"]
        if quiet is None:
            changes.update(quiet_hours_start=None, quiet_hours_end=None)
        else:
            try:
                parsed = QuietHours.parse(quiet.get("start"), quiet.get("end"))
            except QuietHoursError as exc:
                raise invalid("quiet_hours", str(exc)) from None
            start, end = parsed.as_json().values()
            changes.update(quiet_hours_start=start, quiet_hours_end=end)
    return changes


def quiet_until(
    bot: BotRules | None, status: str, scheduled_at: datetime, now: datetime
) -> datetime | None:
    """When the quiet hours that hold a due pending or running shot end; None otherwise."""
    if bot is None or status not in ("pending", "running") or scheduled_at > now:
        return None
    quiet = quiet_hours_of(bot)
    return None if quiet is None else quiet.until(now, bot.timezone)
