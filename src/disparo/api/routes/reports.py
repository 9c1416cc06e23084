"""What a shot did and would do: stats, per-recipient deliveries (JSON, CSV), audience size,
and a preview sent to one chat."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from disparo.api.content import Content, send_preview
from disparo.api.deps import DB, Cipher, Now, ShotId, Telegram
from disparo.api.errors import (
    BODY_ERRORS,
    ERROR_RESPONSES,
    ApiError,
    described,
    invalid,
    not_found,
)
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.personalize import parsed_templates, render_for
from disparo.api.schemas import (
    AudienceEstimate,
    DeliveryOut,
    DeliveryPage,
    PreviewIn,
    PreviewOut,
    ShotStats,
)
from disparo.api.views import (
    CURSOR_DOC,
    delivery_counts,
    page_cursor,
    timeline_bucket_s,
    timeline_points,
)
from disparo.db import shots as shot_queries
from disparo.db.audience import estimate_audience_size
from disparo.db.bots import bot_exists, get_bot
from disparo.db.experiment import variants_of
from disparo.domain.sending import ShotContentError
from disparo.domain.statuses import DeliveryStatus, MediaType, ShotStatus, Target
from disparo.telegram import TelegramAPIError, TelegramError

router = APIRouter(
    prefix=ADMIN_PREFIX, tags=["reports"], responses=ERROR_RESPONSES, dependencies=ADMIN
)

_NOT_FOUND = described(404, "no such shot")
RATE_WINDOW_S = 10
CSV_PAGE = 5000
CSV_COLUMNS = ("telegram_id", "status", "reason", "error", "message_id", "sent_at", "updated_at")


@router.get("/shots/{shot_id}/stats", summary="A shot's statistics", responses=_NOT_FOUND)
async def shot_stats(shot_id: ShotId, db: DB, now: Now) -> ShotStats:
    """Counts by status and by reason, rate and ETA while running, and a timeline to chart."""
    async with db.read() as conn:
        shot = await shot_queries.get_shot(conn, shot_id)
        if shot is None:
            raise not_found(f"shot {shot_id}")
        counts = (await shot_queries.delivery_counts(conn, [shot_id])).get(shot_id, {})
        reasons = await shot_queries.reason_counts(conn, shot_id)
        running = shot.status == ShotStatus.RUNNING.value
        recent = 0
        if running:
            since = now - timedelta(seconds=RATE_WINDOW_S)
            recent = await shot_queries.finished_since(conn, shot_id, since)
        until = shot.finished_at or now
        bucket_s = timeline_bucket_s(shot.started_at, until)
        rows = await shot_queries.outcome_timeline(conn, shot_id, bucket_s=bucket_s)
    summary = delivery_counts(counts, shot.audience_total, shot.status, shot.audience_complete)
    rate = recent / RATE_WINDOW_S
    done = summary.sent + summary.skipped + summary.error + summary.unknown + summary.holdout
    left = summary.total - done
    return ShotStats(
        shot_id=shot.id,
        status=ShotStatus(shot.status),
        **summary.model_dump(),
        by_reason=reasons,
        started_at=shot.started_at,
        finished_at=shot.finished_at,
        rate_per_s=rate,
        eta_s=round(left / rate, 1) if running and rate > 0 and summary.audience_complete else None,
        bucket_s=bucket_s,
        timeline=timeline_points(rows, bucket_s=bucket_s, started_at=shot.started_at, until=until),
    )


@router.get(
    "/shots/{shot_id}/deliveries",
    summary="A shot's deliveries, in send order",
    responses=_NOT_FOUND,
)
async def list_deliveries(
    shot_id: ShotId,
    db: DB,
    status: Annotated[DeliveryStatus | None, Query(description="only this status")] = None,
    cursor: Annotated[str | None, Query(**CURSOR_DOC)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="page size, 1–1000")] = 100,
) -> DeliveryPage:
    """Per-recipient log: status, reason, Telegram's error and message_id."""
    after_seq = page_cursor(cursor)
    async with db.read() as conn:
        if await shot_queries.get_shot(conn, shot_id) is None:
            raise not_found(f"shot {shot_id}")
        rows = await shot_queries.list_deliveries(
            conn,
            shot_id,
            status=status.value if status else None,
            after_seq=after_seq,
            limit=limit + 1,
        )
    page = rows[:limit]
    return DeliveryPage(
        items=[DeliveryOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=str(page[-1].seq) if len(rows) > limit else None,
    )


@router.get(
    "/shots/{shot_id}/deliveries.csv",
    summary="Export a shot's deliveries as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **_NOT_FOUND},
)
async def export_deliveries(shot_id: ShotId, db: DB) -> StreamingResponse:
    """Every delivery, streamed page by page, in send order."""
    async with db.read() as conn:
        if await shot_queries.get_shot(conn, shot_id) is None:
            raise not_found(f"shot {shot_id}")

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        after: int | None = None
        while True:
            async with db.read() as conn:
                rows = await shot_queries.list_deliveries(
                    conn, shot_id, after_seq=after, limit=CSV_PAGE
                )
            for r in rows:
                writer.writerow(
                    [
                        r.telegram_id,
                        r.status,
                        r.reason or "",
                        r.error or "",
                        "" if r.message_id is None else r.message_id,
                        r.sent_at.isoformat() if r.sent_at else "",
                        r.updated_at.isoformat() if r.updated_at else "",
                    ]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < CSV_PAGE:
                return
            after = rows[-1].seq

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="shot-{shot_id}-deliveries.csv"'},
    )


@router.get(
    "/audience/estimate",
    summary="How many contacts a shot would reach",
    responses=described(404, "no such bot"),
)
async def audience_estimate(
    db: DB,
    now: Now,
    bot_slug: Annotated[str, Query(min_length=1, description="the bot")],
    target: Annotated[Target, Query(description="started or pix_created")],
    recency_days: Annotated[
        int | None, Query(ge=1, le=3650, description="interacted in the last N days")
    ] = None,
) -> AudienceEstimate:
    """The audience as it stands now (blocked and deactivated contacts left out)."""
    async with db.read() as conn:
        if not await bot_exists(conn, bot_slug):
            raise not_found(f"bot '{bot_slug}'")
        count = await estimate_audience_size(conn, bot_slug, target.value, recency_days, now=now)
    return AudienceEstimate(
        bot_slug=bot_slug, target=target, recency_days=recency_days, count=count
    )


@router.post(
    "/shots/{shot_id}/test",
    summary="Send a shot's content to one chat now",
    responses=_NOT_FOUND | BODY_ERRORS | described(502, "the Bot API server could not be reached"),
)
async def preview_shot(
    shot_id: ShotId, body: PreviewIn, db: DB, cipher: Cipher, telegram: Telegram
) -> PreviewOut:
    """A preview: Telegram's answer is returned; it is not recorded as a delivery."""
    async with db.read() as conn:
        shot = await shot_queries.get_shot(conn, shot_id)
        if shot is None:
            raise not_found(f"shot {shot_id}")
        bot = await get_bot(conn, cipher, shot.bot_slug)
        if bot is None:
            raise not_found(f"bot '{shot.bot_slug}'")
        copy, buttons = shot.copy, shot.buttons
        media_type, media_url = shot.media_type, shot.media_url
        if body.variant is not None:
            variants = {v.name: v for v in (await variants_of(conn, [shot_id])).get(shot_id, ())}
            if body.variant not in variants:
                known = ", ".join(variants) or "none: this shot has no variants"
                raise invalid("variant", f"no variant {body.variant!r} (variants: {known})")
            chosen = variants[body.variant]
            copy, buttons = chosen.copy, chosen.buttons
            media_type, media_url = chosen.media_type, chosen.media_url
        if shot.templated:  # filled in with the test chat's values when it is a contact
            templates = parsed_templates(copy, buttons)
            copy, buttons, _, _ = await render_for(
                conn, shot.bot_slug, body.telegram_id, templates, buttons, timezone=bot.timezone
            )
    content = Content(copy, MediaType(media_type), media_url, buttons)
    try:
        messages = await send_preview(telegram.bot(bot.token), body.telegram_id, content)
    except ShotContentError as exc:
        raise invalid("shot_id", str(exc)) from None
    except TelegramAPIError as exc:
        raise ApiError(
            422,
            "telegram_error",
            f"Telegram refused the preview: {exc.error_code} {exc.description}",
            field="telegram_id" if exc.error_code in (400, 403) else None,
        ) from None
    except TelegramError as exc:
        raise ApiError(502, "telegram_error", exc.message) from None
    return PreviewOut(
        shot_id=shot_id, telegram_id=body.telegram_id, messages=[dict(m) for m in messages]
    )
