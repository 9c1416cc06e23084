"""The spec's shot routes: create, list, edit, cancel; and pause, resume, cancel while running."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from disparo.api.button_schemas import plain_buttons
from disparo.api.content import Content
from disparo.api.deps import DB, Now, ShotId
from disparo.api.errors import (
    BODY_ERRORS,
    ERROR_RESPONSES,
    conflict,
    described,
    invalid,
    not_found,
)
from disparo.api.experiment import checked_goals, checked_variants, checked_winner
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.narrowing import narrowing_of
from disparo.api.personalize import check_templated_content
from disparo.api.schemas import ShotCreate, ShotOut, ShotPage, ShotPatch
from disparo.api.send_rules import quiet_until
from disparo.api.views import CURSOR_DOC, page_cursor, shot_out
from disparo.db import shots as shot_queries
from disparo.db import templates as template_queries
from disparo.db.bots import bot_exists, bot_rules
from disparo.db.engine import Connection
from disparo.db.experiment import goals_of, variants_of, write_experiment
from disparo.db.shots import ShotRecord
from disparo.domain.experiment import Goal, Variant
from disparo.domain.statuses import MediaType, TransitionError, operator_transition

log = logging.getLogger("disparo.api.shots")

router = APIRouter(
    prefix=f"{ADMIN_PREFIX}/shots", tags=["shots"], responses=ERROR_RESPONSES, dependencies=ADMIN
)

_NOT_FOUND = described(404, "no such shot")
_CONFLICT = described(409, "the shot's status does not allow this")
_MAX_PAGE = 100


async def _shot_or_404(conn: Connection, shot_id: int) -> ShotRecord:
    shot = await shot_queries.get_shot(conn, shot_id)
    if shot is None:
        raise not_found(f"shot {shot_id}")
    return shot


async def _outs(conn: Connection, shots: list[ShotRecord], now: datetime) -> list[ShotOut]:
    """The response bodies of one bot's shots."""
    if not shots:
        return []
    ids = [s.id for s in shots]
    counts = await shot_queries.delivery_counts(conn, ids)
    variants, goals = await variants_of(conn, ids), await goals_of(conn, ids)
    rules = await bot_rules(conn, shots[0].bot_slug)
    return [
        shot_out(
            s,
            counts.get(s.id, {}),
            quiet_until=quiet_until(rules, s.status, s.scheduled_at, now),
            variants=variants.get(s.id, ()),
            goals=goals.get(s.id, ()),
        )
        for s in shots
    ]


async def _out(conn: Connection, shot: ShotRecord, now: datetime) -> ShotOut:
    return (await _outs(conn, [shot], now))[0]


async def _content_of(conn: Connection, body: ShotCreate, first: Variant | None) -> Content:
    """The new shot's content: the body's fields, the rest from `from_template` when given,
    or from the first variant (a shot with variants: what the test send and lists show)."""
    given = body.model_fields_set
    copy, media_type, media_url = body.copy_text, body.media_type, body.media_url
    buttons = plain_buttons(body.buttons)
    if first is not None and "copy_text" not in given:
        copy, buttons = first.copy, first.buttons
        media_type, media_url = MediaType(first.media_type), first.media_url
    if body.from_template is not None:
        template = await template_queries.get_template(conn, body.from_template)
        if template is None or template.bot_slug not in (None, body.bot_slug):
            raise invalid(
                "from_template",
                f"no template {body.from_template} for bot '{body.bot_slug}'; "
                "see GET /admin/api/templates?bot_slug=" + body.bot_slug,
            )
        if "copy_text" not in given:
            copy = template.copy
        if "media_type" not in given:
            media_type = MediaType(template.media_type)
            if "media_url" not in given:
                media_url = template.media_url
        if "buttons" not in given:
            buttons = template.buttons
    if copy is None:
        raise invalid("copy", "copy is required: the message to send (or give from_template)")
    return Content(copy, media_type or MediaType.NONE, media_url, buttons)


def _check_expiry(expires_at: datetime | None, scheduled_at: datetime, now: datetime) -> None:
    if expires_at is not None and expires_at <= max(scheduled_at, now):
        raise invalid(
            "expires_at",
            "expires_at must be later than scheduled_at and than now; "
            "leave it out (or null) for a shot that never expires",
        )


@router.post(
    "",
    status_code=201,
    summary="Create a shot",
    responses=described(422, "a field is invalid") | BODY_ERRORS,
)
async def create_shot(body: ShotCreate, db: DB, now: Now) -> ShotOut:
    """Queue a shot for `scheduled_at` (default now); the workers are woken at once."""
    scheduled_at = body.scheduled_at or now
    _check_expiry(body.expires_at, scheduled_at, now)
    async with db.write(wake=True) as conn:
        if not await bot_exists(conn, body.bot_slug):
            raise invalid(
                "bot_slug",
                f"no bot is registered as '{body.bot_slug}'; "
                "see GET /admin/api/bots or register it with POST /admin/api/bots",
            )
        variants = checked_variants(body.variants, accept_too_long=body.accept_too_long)
        goals = checked_goals(body.conversions)
        winner = checked_winner(body.winner, variants)
        content = await _content_of(conn, body, variants[0] if variants else None)
        check_templated_content(content, accept_too_long=body.accept_too_long)
        await narrowing_of(conn, body.bot_slug, body.filter, body.segment_id)
        values: dict[str, Any] = {
            "bot_slug": body.bot_slug,
            "target": body.target.value,
            "recency_days": body.recency_days,
            "copy": content.copy,
            "media_url": content.media_url,
            "media_type": content.media_type.value,
            "scheduled_at": scheduled_at,
            "segment_id": body.segment_id,
            "expires_at": body.expires_at,
            "stop_on": body.stop_on.value if body.stop_on else None,
            "ignore_frequency_cap": body.ignore_frequency_cap,
            "templated": True,
            "holdout_percent": body.holdout_percent,
            "track_clicks": body.track_clicks,
            "track_copy_links": body.track_copy_links,
        }
        if content.buttons is not None:
            values["buttons"] = content.buttons
        if body.filter is not None:
            values["filter"] = body.filter
        if winner is not None:
            values["winner"] = winner
        shot = await shot_queries.insert_shot(conn, now=now, **values)
        await write_experiment(conn, shot.id, shot.bot_slug, variants=variants, goals=goals)
        out = await _out(conn, shot, now)
    log.info(
        "[SHOTS][API] shot created",
        extra={"shot_id": shot.id, "bot_slug": shot.bot_slug, "target": shot.target},
    )
    return out


@router.get("", summary="List a bot's shots, newest first", responses=described(404, "no such bot"))
async def list_shots(
    db: DB,
    now: Now,
    bot_slug: Annotated[str, Query(min_length=1, description="the bot whose shots to list")],
    limit: Annotated[int, Query(ge=1, le=_MAX_PAGE, description="page size, 1–100")] = 20,
    cursor: Annotated[str | None, Query(**CURSOR_DOC)] = None,
) -> ShotPage:
    """Each shot with its delivery counts; follow `next_cursor` for older ones."""
    before_id = page_cursor(cursor)
    async with db.read() as conn:
        if not await bot_exists(conn, bot_slug):
            raise not_found(f"bot '{bot_slug}'")
        shots = await shot_queries.list_shots(conn, bot_slug, before_id=before_id, limit=limit + 1)
        page = shots[:limit]
        items = await _outs(conn, page, now)
    next_cursor = str(page[-1].id) if len(shots) > limit else None
    return ShotPage(items=items, next_cursor=next_cursor)


@router.get("/{shot_id}", summary="One shot", responses=_NOT_FOUND)
async def get_shot(shot_id: ShotId, db: DB, now: Now) -> ShotOut:
    """The shot with its delivery counts."""
    async with db.read() as conn:
        return await _out(conn, await _shot_or_404(conn, shot_id), now)


def _merged(shot: ShotRecord, body: ShotPatch) -> tuple[Content, dict[str, Any]]:
    """The content after the patch, and the column changes to store."""
    given = body.model_fields_set
    copy = body.copy_text if "copy_text" in given else shot.copy
    if copy is None:
        raise invalid("copy", "copy cannot be null; send the new text")
    media_type = MediaType(shot.media_type)
    if "media_type" in given:
        if body.media_type is None:
            raise invalid("media_type", "media_type cannot be null; use none for no media")
        media_type = body.media_type
    media_url = body.media_url if "media_url" in given else shot.media_url
    if media_type is MediaType.NONE and "media_url" not in given:
        media_url = None  # switching to text only drops the old media
    buttons = shot.buttons
    if "buttons" in given:
        buttons = plain_buttons(body.buttons)
    changes: dict[str, Any] = {
        "copy": copy,
        "media_type": media_type.value,
        "media_url": media_url,
        "buttons": buttons,
    }
    if "scheduled_at" in given:
        if body.scheduled_at is None:
            raise invalid("scheduled_at", "scheduled_at cannot be null; give a time with offset")
        changes["scheduled_at"] = body.scheduled_at
    if "recency_days" in given:
        changes["recency_days"] = body.recency_days
    changes.update(_rule_changes(shot, body))
    return Content(copy, media_type, media_url, buttons), changes


def _rule_changes(shot: ShotRecord, body: ShotPatch) -> dict[str, Any]:
    """The audience narrowing and send-time rules after the patch: a new filter replaces the
    segment and a new segment the filter (giving both is refused later)."""
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if "filter" in given:
        changes["filter"] = body.filter
        if body.filter is not None and "segment_id" not in given:
            changes["segment_id"] = None
    if "segment_id" in given:
        changes["segment_id"] = body.segment_id
        if body.segment_id is not None and "filter" not in given:
            changes["filter"] = None
    if "expires_at" in given:
        changes["expires_at"] = body.expires_at
    if "stop_on" in given:
        changes["stop_on"] = body.stop_on.value if body.stop_on else None
    for flag in ("ignore_frequency_cap", "track_clicks", "track_copy_links"):
        if flag in given:
            if getattr(body, flag) is None:
                raise invalid(flag, f"{flag} is true or false")
            changes[flag] = getattr(body, flag)
    return changes


@router.patch(
    "/{shot_id}", summary="Edit a pending shot", responses=_NOT_FOUND | _CONFLICT | BODY_ERRORS
)
async def edit_shot(shot_id: ShotId, body: ShotPatch, db: DB, now: Now) -> ShotOut:
    """Change copy, media, buttons, audience recency or schedule while the shot is pending."""
    async with db.write(wake=True) as conn:
        shot = await _shot_or_404(conn, shot_id)
        _check_allowed("edit", shot)
        content, changes = _merged(shot, body)
        # The length risk was accepted (or absent) when the copy was set: asked again only
        # when the copy or its media type changes.
        unchanged = not ({"copy_text", "media_type"} & body.model_fields_set) and shot.templated
        check_templated_content(content, accept_too_long=body.accept_too_long or unchanged)
        changes["templated"] = True
        await narrowing_of(
            conn,
            shot.bot_slug,
            changes.get("filter", shot.filter),
            changes.get("segment_id", shot.segment_id),
        )
        _check_expiry(
            changes.get("expires_at", shot.expires_at),
            changes.get("scheduled_at", shot.scheduled_at),
            now,
        )
        variants, goals = await _experiment_changes(conn, shot, body, changes)
        edited = await shot_queries.edit_pending_shot(conn, shot_id, now=now, **changes)
        if edited is None:
            _check_allowed("edit", await _shot_or_404(conn, shot_id))
            raise conflict("the shot changed while it was being edited; try again")
        await write_experiment(conn, shot_id, shot.bot_slug, variants=variants, goals=goals)
        out = await _out(conn, edited, now)
    log.info("[SHOTS][API] shot edited", extra={"shot_id": shot_id, "fields": sorted(changes)})
    return out


_EXPERIMENT_FIELDS = {"variants", "holdout_percent", "conversions", "winner"}
_CONTENT_FIELDS = {"copy_text", "media_type", "media_url", "buttons"}


async def _experiment_changes(
    conn: Connection, shot: ShotRecord, body: ShotPatch, changes: dict[str, Any]
) -> tuple[tuple[Variant, ...] | None, tuple[Goal, ...] | None]:
    """The patch's variants and conversion events to store (None: unchanged); the holdout and
    winner mode go into `changes`. Refused (409) once the audience is written: each
    recipient's group was recorded then."""
    given = _EXPERIMENT_FIELDS & body.model_fields_set
    content = _CONTENT_FIELDS & body.model_fields_set
    if content and "variants" not in given and (await variants_of(conn, [shot.id])).get(shot.id):
        field = "copy" if "copy_text" in content else sorted(content)[0]
        raise invalid(
            field,
            "this shot sends its variants (its own copy is variant A's): "
            "change the content with variants",
        )
    if not given:
        return None, None
    if shot.audience_total is not None:
        raise conflict(
            "the audience of this shot is written and each recipient's group recorded; "
            "variants, holdout, conversions and winner mode can no longer change",
            field=sorted(given)[0],
        )
    variants = None
    if "variants" in given:
        variants = checked_variants(body.variants, accept_too_long=body.accept_too_long)
        if variants and "copy_text" not in body.model_fields_set:  # the shot's own: A's
            first = variants[0]
            changes.update(
                copy=first.copy,
                media_type=first.media_type,
                media_url=first.media_url,
                buttons=first.buttons,
            )
    current = (
        variants if variants is not None else (await variants_of(conn, [shot.id])).get(shot.id, ())
    )
    if "holdout_percent" in given:
        changes["holdout_percent"] = body.holdout_percent or 0
    if "winner" in given:
        changes["winner"] = checked_winner(body.winner, current)
    elif shot.winner is not None and not current:
        changes["winner"] = None  # its variants are gone: so is winner mode
    goals = checked_goals(body.conversions) if "conversions" in given else None
    return variants, goals


def _check_allowed(action: str, shot: ShotRecord) -> None:
    try:
        operator_transition(action, shot.status)
    except TransitionError as exc:
        raise conflict(str(exc), field="status") from None


async def _transition(db: DB, shot_id: int, action: str, now: Now) -> ShotOut:
    async with db.write(wake=action == "resume") as conn:
        shot = await _shot_or_404(conn, shot_id)
        _check_allowed(action, shot)
        moved = await shot_queries.transition_shot(conn, shot_id, action, now=now)
        if moved is None:  # a worker moved it between the read and the update
            _check_allowed(action, await _shot_or_404(conn, shot_id))
            raise conflict("the shot changed meanwhile; try again")
        out = await _out(conn, moved, now)
    log.info("[SHOTS][API] shot %s", action, extra={"shot_id": shot_id, "status": moved.status})
    return out


@router.delete("/{shot_id}", summary="Cancel a pending shot", responses=_NOT_FOUND | _CONFLICT)
async def delete_shot(shot_id: ShotId, db: DB, now: Now) -> ShotOut:
    """The shot becomes `cancelled` and is kept for history; only a pending shot can be."""
    return await _transition(db, shot_id, "delete", now)


@router.post("/{shot_id}/pause", summary="Pause a shot", responses=_NOT_FOUND | _CONFLICT)
async def pause_shot(shot_id: ShotId, db: DB, now: Now) -> ShotOut:
    """pending or running → paused; a running shot stops sending within a second."""
    return await _transition(db, shot_id, "pause", now)


@router.post("/{shot_id}/resume", summary="Resume a paused shot", responses=_NOT_FOUND | _CONFLICT)
async def resume_shot(shot_id: ShotId, db: DB, now: Now) -> ShotOut:
    """paused → pending; a worker picks it up and continues where it stopped."""
    return await _transition(db, shot_id, "resume", now)


@router.post("/{shot_id}/cancel", summary="Cancel a shot", responses=_NOT_FOUND | _CONFLICT)
async def cancel_shot(shot_id: ShotId, db: DB, now: Now) -> ShotOut:
    """pending, running or paused → cancelled; a running shot stops within a second."""
    return await _transition(db, shot_id, "cancel", now)
