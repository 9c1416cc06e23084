"""Contacts: the table (search, filter or segment, sort, keyset pages), its CSV export, one
contact's story, and deleting contacts (one, or by an explicit filter with the count confirmed).
The search of the preview (`GET .../contacts?q=`) and the PATCH of tags stay in audiences.py."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import StreamingResponse

from disparo.api.contact_schemas import (
    ContactLine,
    ContactPage,
    ContactsDeleted,
    ContactsDeleteIn,
    ContactStory,
    DeliveryList,
    DeliveryOut,
    EventList,
    EventOut,
    PaymentList,
    PaymentOut,
)
from disparo.api.deps import DB, BotSlug, Now
from disparo.api.errors import BODY_ERRORS, ERROR_RESPONSES, conflict, described, invalid, not_found
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.narrowing import checked_filter, narrowing_of
from disparo.api.schemas import ID_LIMIT, TELEGRAM_ID_LIMIT
from disparo.db import contact_story as story
from disparo.db.bots import bot_exists
from disparo.db.contact_browse import (
    ContactQuery,
    ContactRow,
    ContactSort,
    Position,
    contact_page,
    count_contacts,
)
from disparo.db.engine import Connection
from disparo.db.tags import tags_of
from disparo.domain.statuses import ChatState

log = logging.getLogger("disparo.api.contacts")

router = APIRouter(
    prefix=ADMIN_PREFIX, tags=["contacts"], responses=ERROR_RESPONSES, dependencies=ADMIN
)

TelegramId = Annotated[int, Path(ge=1, le=TELEGRAM_ID_LIMIT, description="the contact")]
STORY_LIMIT = 200
CSV_PAGE = 2000
_NO_BOT = described(404, "no such bot")
_NO_CONTACT = described(404, "no such bot or contact")
_CURSOR_PATTERN = r"^(-?[0-9]{1,18})?\.[0-9]{1,19}$"

Search = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="an id, or part of a name or @username"),
]
State = Annotated[ChatState | None, Query(description="only contacts in this state")]
FilterJson = Annotated[
    str | None,
    Query(
        max_length=1000,
        description=(
            "a filter tree as JSON (docs/api.md, Audience filters), at most 1000 characters "
            "(save a longer one as a segment); not with segment_id"
        ),
    ),
]
SegmentParam = Annotated[
    int | None, Query(ge=1, le=ID_LIMIT, description="only the contacts of this saved segment")
]
Sort = Annotated[
    ContactSort,
    Query(
        description="last_interaction or started (newest first, none last), total_paid "
        "(largest first, those who never paid last), or telegram_id"
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        max_length=50,
        description="next_cursor of the previous page",
        json_schema_extra={"pattern": _CURSOR_PATTERN},
    ),
]
Limit = Annotated[int, Query(ge=1, le=200, description="at most this many, 1–200")]


async def _bot_or_404(conn: Connection, slug: str) -> None:
    if not await bot_exists(conn, slug):
        raise not_found(f"bot '{slug}'")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which contacts a table, count or export is about: search, state, filter or segment."""

    q: str | None
    state: ChatState | None
    filter_json: str | None
    segment_id: int | None


def _selection(
    q: Search = None,
    state: State = None,
    filter: FilterJson = None,
    segment_id: SegmentParam = None,
) -> Selection:
    return Selection(q, state, filter, segment_id)


Selected = Annotated[Selection, Depends(_selection)]


async def _query(
    conn: Connection,
    slug: str,
    selection: Selection,
    sort: ContactSort = ContactSort.LAST_INTERACTION,
) -> ContactQuery:
    await _bot_or_404(conn, slug)
    tree: Any = None
    if selection.filter_json is not None:
        try:
            tree = orjson.loads(selection.filter_json)
        except orjson.JSONDecodeError:
            raise invalid("filter", "filter must be a filter tree written as JSON") from None
    narrowing = await narrowing_of(conn, slug, tree, selection.segment_id)
    return ContactQuery(
        bot_slug=slug,
        sort=sort,
        search=q.strip() if (q := selection.q) and q.strip() else None,
        state=selection.state.value if selection.state is not None else None,
        narrowing=narrowing,
    )


def _position(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    try:
        return Position.decode(cursor)
    except ValueError:
        raise invalid(
            "cursor", "cursor must be the next_cursor value of the previous page"
        ) from None


def _line(row: ContactRow) -> ContactLine:
    return ContactLine(**{name: getattr(row, name) for name in ContactRow.__slots__})


@router.get(
    "/bots/{slug}/contacts:browse",
    summary="A page of the bot's contacts: searched, filtered, sorted",
    responses=_NO_BOT,
)
async def browse_contacts(
    slug: BotSlug,
    db: DB,
    now: Now,
    selection: Selected,
    sort: Sort = ContactSort.LAST_INTERACTION,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ContactPage:
    """Every contact of the bot, blocked and deactivated ones too, unless `state` says which;
    follow `next_cursor` for the next page."""
    after = _position(cursor)
    async with db.read() as conn:
        query = await _query(conn, slug, selection, sort)
        page, position = await contact_page(conn, query, now=now, after=after, limit=limit)
    return ContactPage(
        items=[_line(row) for row in page],
        next_cursor=position.encode() if position is not None else None,
    )


@router.get(
    "/bots/{slug}/contacts:count",
    summary="How many contacts a search and filter match",
    responses=_NO_BOT,
)
async def count_matching(
    slug: BotSlug,
    db: DB,
    now: Now,
    selection: Selected,
) -> dict[str, int]:
    """The count the page shows before deleting by filter (`{"count": N}`)."""
    async with db.read() as conn:
        query = await _query(conn, slug, selection)
        return {"count": await count_contacts(conn, query, now=now)}


_CSV_COLUMNS = (
    "telegram_id",
    "first_name",
    "last_name",
    "username",
    "language_code",
    "chat_state",
    "tags",
    "started_at",
    "last_interaction_at",
    "blocked_at",
    "has_pix",
    "total_paid_cents",
)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


@router.get(
    "/bots/{slug}/contacts.csv",
    summary="Export the bot's contacts as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **_NO_BOT},
)
async def export_contacts(
    slug: BotSlug,
    db: DB,
    now: Now,
    selection: Selected,
    sort: Sort = ContactSort.LAST_INTERACTION,
) -> StreamingResponse:
    """The table's columns (tags space-separated), for the same search, filter and sort;
    written page by page, so memory stays flat whatever the count."""
    async with db.read() as conn:
        query = await _query(conn, slug, selection, sort)

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_CSV_COLUMNS)
        after: Position | None = None
        while True:
            async with db.read() as conn:
                page, after = await contact_page(conn, query, now=now, after=after, limit=CSV_PAGE)
            for row in page:
                writer.writerow([_cell(getattr(row, name)) for name in _CSV_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if after is None:
                return

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-contacts.csv"'},
    )


@router.get(
    "/bots/{slug}/contacts/{telegram_id}",
    summary="One contact's story",
    responses=_NO_CONTACT,
)
async def contact_story(slug: BotSlug, telegram_id: TelegramId, db: DB) -> ContactStory:
    """Its fields and state times, tags, attributes, funnel events, payments, and every shot it
    was in with the outcome (sent, skipped and why, variant, clicked, converted); the newest 200
    of each, with their totals."""
    async with db.read() as conn:
        fields = await story.contact_fields(conn, slug, telegram_id)
        if fields is None:
            await _bot_or_404(conn, slug)
            raise not_found(f"contact {telegram_id} of bot '{slug}'")
        tags = await tags_of(conn, slug, telegram_id)
        events = await story.contact_events(conn, slug, telegram_id, limit=STORY_LIMIT)
        payments = await story.contact_payments(conn, slug, telegram_id, limit=STORY_LIMIT)
        shots = await story.contact_deliveries(conn, slug, telegram_id, limit=STORY_LIMIT)
    line = ContactLine(
        **{k: fields[k] for k in ContactLine.model_fields if k in fields},
        tags=tags,
    )
    return ContactStory(
        contact=line,
        attributes=fields["attributes"] or {},
        updated_at=fields["updated_at"],
        events=EventList(items=[EventOut(**e) for e in events.items], total=events.total),
        payments=PaymentList(items=[PaymentOut(**p) for p in payments.items], total=payments.total),
        shots=DeliveryList(
            items=[_delivery(d) for d in shots.items],
            total=shots.total,
        ),
    )


def _delivery(row: dict[str, Any]) -> DeliveryOut:
    values = dict(row)
    values["copy_snippet"] = values.pop("copy")
    values["clicked"] = bool(values["clicked"])
    values["replied"] = bool(values["replied"])
    return DeliveryOut(**values)


@router.delete(
    "/bots/{slug}/contacts/{telegram_id}",
    status_code=204,
    summary="Delete a contact",
    responses=_NO_CONTACT,
)
async def delete_contact(slug: BotSlug, telegram_id: TelegramId, db: DB) -> Response:
    """The contact, its tags, funnel events and payments; the deliveries of shots stay (they
    are the record of what was sent, and the reports count them)."""
    async with db.write() as conn:
        if not await story.delete_contact(conn, slug, telegram_id):
            await _bot_or_404(conn, slug)
            raise not_found(f"contact {telegram_id} of bot '{slug}'")
    log.info("contact deleted", extra={"bot_slug": slug, "telegram_id": telegram_id})
    return Response(status_code=204)


@router.post(
    "/bots/{slug}/contacts:delete",
    summary="Delete every contact a filter matches",
    responses=_NO_BOT | described(409, "the filter matches another count now") | BODY_ERRORS,
)
async def delete_by_filter(
    slug: BotSlug, body: ContactsDeleteIn, db: DB, now: Now
) -> ContactsDeleted:
    """Only with a filter (never every contact by accident) and the count the operator saw:
    refused when the filter matches another number of contacts now."""
    narrowing = checked_filter(body.filter)
    async with db.write() as conn:
        await _bot_or_404(conn, slug)
        query = ContactQuery(bot_slug=slug, narrowing=narrowing)
        count = await count_contacts(conn, query, now=now)
        if count != body.expected_count:
            raise conflict(
                f"the filter matches {count} contacts now, not {body.expected_count}; "
                "check the list again and confirm the new count",
                field="expected_count",
            )
        deleted = await story.delete_matching(conn, query, now=now)
    log.info("contacts deleted by filter", extra={"bot_slug": slug, "deleted": deleted})
    return ContactsDeleted(deleted=deleted)
