"""Audiences: saved segments, contact tags (one contact, or every contact a filter matches),
and the estimate of a shot's audience with who each rule leaves out."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from disparo.api.audience_schemas import (
    ContactFound,
    ContactOut,
    ContactPatch,
    ContactSearch,
    EstimateIn,
    EstimateOut,
    Exclusions,
    SegmentIn,
    SegmentList,
    SegmentOut,
    SegmentPatch,
    TagApplyIn,
    TagApplyOut,
    TagCount,
    TagList,
)
from disparo.api.button_schemas import plain_buttons
from disparo.api.deps import DB, MAX_ID, BotSlug, Now
from disparo.api.errors import BODY_ERRORS, ERROR_RESPONSES, conflict, described, invalid, not_found
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.narrowing import checked_filter, narrowing_of
from disparo.api.personalize import limit_of, parsed_templates
from disparo.api.schemas import TELEGRAM_ID_LIMIT
from disparo.db import contacts as contact_queries
from disparo.db import segments as segment_queries
from disparo.db import tags as tag_queries
from disparo.db.audience import (
    FrequencyCap,
    audience_condition,
    estimate_audience_size,
    estimate_with_exclusions,
)
from disparo.db.bots import bot_exists, bot_rules
from disparo.db.contact_values import merge_attributes
from disparo.db.engine import Connection
from disparo.db.personal_estimate import personal_counts
from disparo.db.segments import SegmentRecord
from disparo.domain.copy import visible_length
from disparo.domain.filters import Filter
from disparo.domain.statuses import Target
from disparo.domain.tags import TagError, check_tag, check_tags
from disparo.domain.variables import AttributesError, ContactValues, check_attributes

log = logging.getLogger("disparo.api.audiences")

router = APIRouter(
    prefix=ADMIN_PREFIX, tags=["audiences"], responses=ERROR_RESPONSES, dependencies=ADMIN
)

SegmentId = Annotated[int, Path(ge=1, le=MAX_ID, description="the segment's id")]
TelegramId = Annotated[int, Path(ge=1, le=TELEGRAM_ID_LIMIT, description="the contact")]
_NO_BOT = described(404, "no such bot")
_NO_SEGMENT = described(404, "no such segment of this bot")


async def _bot_or_404(conn: Connection, slug: str) -> None:
    if not await bot_exists(conn, slug):
        raise not_found(f"bot '{slug}'")


async def _segment_out(conn: Connection, segment: SegmentRecord, now: Now) -> SegmentOut:
    count = await estimate_audience_size(
        conn,
        segment.bot_slug,
        Target.STARTED.value,
        now=now,
        narrowing=checked_filter(segment.filter),
    )
    return SegmentOut(count=count, **{k: getattr(segment, k) for k in SegmentRecord.__slots__})


async def _segment_or_404(conn: Connection, slug: str, segment_id: int) -> SegmentRecord:
    segment = await segment_queries.get_segment(conn, segment_id)
    if segment is None or segment.bot_slug != slug:
        raise not_found(f"segment {segment_id} of bot '{slug}'")
    return segment


async def _name_free(conn: Connection, slug: str, name: str, other_than: int | None = None) -> None:
    if await segment_queries.name_taken(conn, slug, name, other_than=other_than):
        raise conflict(f"bot '{slug}' already has a segment named '{name}'", field="name")


@router.get("/bots/{slug}/segments", summary="A bot's saved segments", responses=_NO_BOT)
async def list_segments(slug: BotSlug, db: DB, now: Now) -> SegmentList:
    """Each segment with the number of reachable contacts it matches now."""
    async with db.read() as conn:
        await _bot_or_404(conn, slug)
        found = await segment_queries.list_segments(conn, slug)
        return SegmentList(items=[await _segment_out(conn, s, now) for s in found])


@router.post(
    "/bots/{slug}/segments",
    status_code=201,
    summary="Save a segment",
    responses=_NO_BOT | described(409, "the name is taken") | BODY_ERRORS,
)
async def create_segment(slug: BotSlug, body: SegmentIn, db: DB, now: Now) -> SegmentOut:
    """A named filter of the bot's contacts, for shots (segment_id) and the estimate."""
    checked_filter(body.filter)
    async with db.write() as conn:
        await _bot_or_404(conn, slug)
        await _name_free(conn, slug, body.name)
        segment = await segment_queries.insert_segment(
            conn, bot_slug=slug, name=body.name, filter_tree=body.filter, now=now
        )
        out = await _segment_out(conn, segment, now)
    log.info("segment saved", extra={"bot_slug": slug, "segment_id": segment.id})
    return out


@router.get("/bots/{slug}/segments/{segment_id}", summary="One segment", responses=_NO_SEGMENT)
async def get_segment(slug: BotSlug, segment_id: SegmentId, db: DB, now: Now) -> SegmentOut:
    """The segment with its live count."""
    async with db.read() as conn:
        return await _segment_out(conn, await _segment_or_404(conn, slug, segment_id), now)


@router.patch(
    "/bots/{slug}/segments/{segment_id}",
    summary="Rename a segment or change its filter",
    responses=_NO_SEGMENT | described(409, "the name is taken") | BODY_ERRORS,
)
async def edit_segment(
    slug: BotSlug, segment_id: SegmentId, body: SegmentPatch, db: DB, now: Now
) -> SegmentOut:
    """Pending shots that use the segment send to its new filter."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("name", "filter"):
        if name in changes and changes[name] is None:
            raise invalid(name, f"{name} cannot be null; leave it out to keep it")
    if "filter" in changes:
        checked_filter(changes["filter"])
    async with db.write() as conn:
        await _segment_or_404(conn, slug, segment_id)
        if "name" in changes:
            await _name_free(conn, slug, changes["name"], other_than=segment_id)
        segment = await segment_queries.update_segment(conn, segment_id, now=now, **changes)
        if segment is None:
            raise not_found(f"segment {segment_id} of bot '{slug}'")
        out = await _segment_out(conn, segment, now)
    log.info("segment changed", extra={"segment_id": segment_id, "fields": sorted(changes)})
    return out


@router.delete(
    "/bots/{slug}/segments/{segment_id}",
    status_code=204,
    summary="Delete a segment",
    responses=_NO_SEGMENT | described(409, "a pending, paused or running shot uses it"),
)
async def delete_segment(slug: BotSlug, segment_id: SegmentId, db: DB) -> Response:
    """Refused while a shot that has not ended uses it; ended shots keep their history."""
    async with db.write() as conn:
        await _segment_or_404(conn, slug, segment_id)
        using = await segment_queries.unfinished_shots_using(conn, segment_id)
        if using:
            listed = ", ".join(str(i) for i in using[:20]) + (", ..." if len(using) > 20 else "")
            raise conflict(
                f"segment {segment_id} is used by shots that have not ended: {listed}; "
                "change their audience or cancel them first"
            )
        await segment_queries.delete_segment(conn, segment_id)
    log.info("segment deleted", extra={"bot_slug": slug, "segment_id": segment_id})
    return Response(status_code=204)


@router.post(
    "/audience/estimate",
    summary="Count an audience, with who each rule leaves out",
    responses=BODY_ERRORS,
)
async def estimate(body: EstimateIn, db: DB, now: Now) -> EstimateOut:
    """Target, recency, a filter or segment, and the bot's frequency cap, as a shot would apply
    them now; each excluded contact counted once, under the first rule that excludes it."""
    async with db.read() as conn:
        rules = await bot_rules(conn, body.bot_slug)
        if rules is None:
            raise invalid("bot_slug", f"no bot is registered as '{body.bot_slug}'")
        narrowing = await narrowing_of(conn, body.bot_slug, body.filter, body.segment_id)
        cap = None
        if rules.max_shots_per_contact and rules.cap_window_hours and not body.ignore_frequency_cap:
            cap = FrequencyCap(rules.max_shots_per_contact, rules.cap_window_hours)
        found = await estimate_with_exclusions(
            conn,
            body.bot_slug,
            body.target.value,
            body.recency_days,
            now=now,
            narrowing=narrowing,
            cap=cap,
        )
        missing, too_long = None, None
        if body.copy_text is not None:
            missing, too_long = await _personal_counts(conn, body, narrowing, now)
    return EstimateOut(
        bot_slug=body.bot_slug,
        target=body.target,
        recency_days=body.recency_days,
        count=found.count,
        missing=missing,
        too_long=too_long,
        excluded=Exclusions(
            blocked=found.blocked,
            deactivated=found.deactivated,
            recency=found.recency,
            filter=found.filter,
            frequency_cap=found.frequency_cap,
        ),
    )


async def _personal_counts(
    conn: Connection, body: EstimateIn, narrowing: Filter | None, now: datetime
) -> tuple[dict[str, int], int]:
    """Who in the estimated audience lacks which variable, and how many copies are too long."""
    assert body.copy_text is not None
    buttons = plain_buttons(body.buttons)
    templates = parsed_templates(body.copy_text, buttons)
    bare, _, _ = templates.render(buttons, ContactValues(), timezone="UTC")
    audience = audience_condition(
        body.bot_slug, body.target.value, body.recency_days, now=now, narrowing=narrowing
    )
    variables = list(templates.copy.variables)
    for url in templates.urls.values():
        variables += url.variables
    return await personal_counts(
        conn,
        audience,
        variables,
        templates.copy.variables,
        bare_length=visible_length(bare),
        limit=limit_of(body.media_type.value),
    )


@router.get("/bots/{slug}/tags", summary="A bot's tags with their counts", responses=_NO_BOT)
async def list_tags(slug: BotSlug, db: DB) -> TagList:
    """The 500 most used tags of the bot's contacts."""
    async with db.read() as conn:
        await _bot_or_404(conn, slug)
        counts = await tag_queries.tag_counts(conn, slug)
    return TagList(items=[TagCount(tag=tag, count=count) for tag, count in counts])


def _tags(values: list[str], field: str) -> list[str]:
    try:
        return check_tags(values)
    except TagError as exc:
        raise invalid(field, str(exc)) from None


@router.post(
    "/bots/{slug}/tags:apply",
    summary="Tag every contact a filter matches",
    responses=_NO_BOT | BODY_ERRORS,
)
async def apply_tag(slug: BotSlug, body: TagApplyIn, db: DB, now: Now) -> TagApplyOut:
    """One statement for any number of contacts (blocked and deactivated ones too)."""
    try:
        tag = check_tag(body.tag)
    except TagError as exc:
        raise invalid("tag", str(exc)) from None
    narrowing = checked_filter(body.filter)
    async with db.write() as conn:
        await _bot_or_404(conn, slug)
        changed = await tag_queries.apply_tag(
            conn, slug, tag, narrowing, now=now, remove=body.remove
        )
    log.info(
        "tag applied",
        extra={"bot_slug": slug, "tag": tag, "removed": body.remove, "changed": changed},
    )
    return TagApplyOut(tag=tag, changed=changed)


@router.patch(
    "/bots/{slug}/contacts/{telegram_id}",
    summary="Change a contact's tags and attributes",
    responses=described(404, "no such bot or contact") | BODY_ERRORS,
)
async def edit_contact(
    slug: BotSlug, telegram_id: TelegramId, body: ContactPatch, db: DB
) -> ContactOut:
    """Tag removals first, then additions; attributes merged (null removes a key)."""
    add = _tags(body.add_tags, "add_tags")
    remove = _tags(body.remove_tags, "remove_tags")
    both = sorted(set(add) & set(remove))
    if both:
        raise invalid("add_tags", f"a tag cannot be added and removed at once: {', '.join(both)}")
    if body.attributes is not None:
        try:
            check_attributes(body.attributes)
        except AttributesError as exc:
            raise invalid(f"attributes.{exc.key}" if exc.key else "attributes", str(exc)) from None
    async with db.write() as conn:
        if not await tag_queries.contact_exists(conn, slug, telegram_id):
            await _bot_or_404(conn, slug)
            raise not_found(f"contact {telegram_id} of bot '{slug}'")
        tags = await tag_queries.change_tags(conn, slug, telegram_id, add=add, remove=remove)
        attributes = await merge_attributes(conn, slug, telegram_id, body.attributes)
    return ContactOut(telegram_id=telegram_id, tags=tags, attributes=attributes)


@router.get("/bots/{slug}/contacts", summary="Find contacts", responses=_NO_BOT)
async def search_contacts(
    slug: BotSlug,
    db: DB,
    q: Annotated[
        str,
        Query(min_length=1, max_length=100, description="an id, or part of a name or @username"),
    ],
    limit: Annotated[int, Query(ge=1, le=50, description="at most this many, 1–50")] = 10,
) -> ContactSearch:
    """By id, or by part of the first name, last name or username (any case)."""
    async with db.read() as conn:
        await _bot_or_404(conn, slug)
        found = await contact_queries.search_contacts(conn, slug, q, limit=limit)
    return ContactSearch(
        items=[
            ContactFound(
                telegram_id=p.telegram_id,
                first_name=p.first_name,
                last_name=p.last_name,
                username=p.username,
            )
            for p in found
        ]
    )
