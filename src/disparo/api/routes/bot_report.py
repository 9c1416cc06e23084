"""A bot's report over a period: totals, days, the best hours and its shots ranked by revenue per
recipient, as JSON or as CSV tables (docs/api.md, Reports)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query
from fastapi.responses import Response

from disparo.api.deps import DB, AppSettings, BotSlug, Now
from disparo.api.errors import ERROR_RESPONSES, described, invalid, not_found
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.config import Settings
from disparo.db import bot_report as queries
from disparo.db.bots import bot_rules
from disparo.db.engine import Database
from disparo.domain.bot_report import build

router = APIRouter(
    prefix=f"{ADMIN_PREFIX}/bots", tags=["reports"], responses=ERROR_RESPONSES, dependencies=ADMIN
)
_NOT_FOUND = described(404, "no such bot")
DEFAULT_DAYS = 30
MAX_DAYS = 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
NO_PUBLIC_URL = (
    "DISPARO_PUBLIC_URL is not set: buttons go out with their own URLs and clicks are not "
    "counted; set it to this server's public address to count them"
)
From = Annotated[
    date | None,
    Query(alias="from", description="first local day (default: 29 days before `to`)"),
]
To = Annotated[
    date | None, Query(alias="to", description="last local day, included (default: today)")
]
Tz = Annotated[
    str | None,
    Query(max_length=64, description="IANA time zone of days and hours (default: the bot's)"),
]
Table = Annotated[Literal["days", "hours", "shots"], Query(description="days, hours or shots")]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory
        raise invalid("tz", f"'{name}' is not an IANA time zone; e.g. America/Sao_Paulo") from None


async def _report(
    slug: str,
    start: date | None,
    end: date | None,
    tz: str | None,
    db: Database,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    async with db.read() as conn:
        rules = await bot_rules(conn, slug)
        if rules is None:
            raise not_found(f"bot '{slug}'")
        timezone = tz or rules.timezone
        zone = _zone(timezone)
        for name, day in (("from", start), ("to", end)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise invalid(name, f"{name} must be a day from {FIRST_DAY} to {LAST_DAY}")
        end = end or now.astimezone(zone).date()
        start = start or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise invalid("from", f"from ({start}) is after to ({end}); swap them")
        if (end - start).days + 1 > MAX_DAYS:
            raise invalid("from", f"a report covers at most {MAX_DAYS} days; narrow from/to")
        first = datetime.combine(start, time(), zone).astimezone(UTC)
        after = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
        rows = await queries.hour_rows(conn, slug, first, after)
        started = await queries.starts(conn, slug, first, after)
        shots = await queries.shot_infos(conn, {row.shot_id for row in rows})
    on = bool(settings.public_url)
    tracking = {"enabled": on, "reason": None if on else NO_PUBLIC_URL}
    return build(
        bot_slug=slug,
        start=start,
        end=end,
        timezone=timezone,
        rows=rows,
        started=started,
        shots=shots,
        tracking=tracking,
    )


@router.get("/{slug}/report", summary="A bot's report over a period", responses=_NOT_FOUND)
async def bot_report(
    slug: BotSlug,
    db: DB,
    settings: AppSettings,
    now: Now,
    start: From = None,
    end: To = None,
    tz: Tz = None,
) -> dict[str, Any]:
    """Totals and days (recipients, delivered, blocked, deactivated, clicks, replies, PIX, sales
    and revenue, with their rates), the best hours (weekday × hour grid of click and paid rates
    with 95 % intervals, and a recommendation only when the data support one), and the shots
    ranked by revenue per recipient with their funnels. Everything counts at the hour of the
    delivery it follows, in the bot's time zone (or `tz`)."""
    return await _report(slug, start, end, tz, db, settings, now)


_COLUMNS = {
    "days": ("date", "shots", "recipients", "delivered", "delivery_rate", "blocked", "deactivated",
             "block_rate", "clicks", "clicked", "click_rate", "replies", "reply_rate", "pix",
             "paid", "revenue_cents"),
    "hours": ("weekday", "hour", "delivered", "clicked", "paid", "click_rate", "paid_rate"),
    "shots": ("id", "copy", "status", "started_at", "audience", "recipients", "delivered",
              "clicked", "replies", "pix", "paid", "revenue_cents", "revenue_per_recipient_cents"),
}  # fmt: skip


def _cell(value: Any) -> Any:
    if isinstance(value, dict):  # a rate with its interval: the rate
        return value["value"]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return "" if value is None else value


@router.get(
    "/{slug}/report.csv",
    summary="One table of a bot's report as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **_NOT_FOUND},
)
async def bot_report_csv(
    slug: BotSlug,
    table: Table,
    db: DB,
    settings: AppSettings,
    now: Now,
    start: From = None,
    end: To = None,
    tz: Tz = None,
) -> Response:
    """The days, the best-hours cells or the shots of the report, with the same columns."""
    report = await _report(slug, start, end, tz, db, settings, now)
    hours = report["best_hours"]["cells"]
    rows = {"days": report["days"], "hours": hours, "shots": report["shots"]}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_COLUMNS[table])
    for row in rows[table]:
        writer.writerow([_cell(row[column]) for column in _COLUMNS[table]])
    name = f"{slug}-report-{report['from']}-{report['to']}-{table}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
