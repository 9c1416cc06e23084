"""Templates (saved messages, of one bot or of all) and the rendered preview of a content for
one contact or for the first contacts of an audience."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from disparo.api.button_schemas import plain_buttons
from disparo.api.content import Content
from disparo.api.deps import DB, MAX_ID, Now
from disparo.api.errors import BODY_ERRORS, ERROR_RESPONSES, described, invalid, not_found
from disparo.api.middleware.auth import ADMIN, ADMIN_PREFIX
from disparo.api.narrowing import narrowing_of
from disparo.api.personalize import check_templated_content, limit_of
from disparo.api.template_schemas import (
    Rendered,
    RenderIn,
    RenderOut,
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplatePatch,
)
from disparo.db import templates as template_queries
from disparo.db.audience import audience_members
from disparo.db.bots import bot_exists, bot_rules
from disparo.db.contact_values import contact_names, contact_values
from disparo.db.engine import Connection
from disparo.db.templates import TemplateRecord
from disparo.domain.copy import visible_length
from disparo.domain.statuses import MediaType
from disparo.domain.variables import ContactValues

log = logging.getLogger("disparo.api.templates")

router = APIRouter(
    prefix=ADMIN_PREFIX, tags=["templates"], responses=ERROR_RESPONSES, dependencies=ADMIN
)
TemplateId = Annotated[int, Path(ge=1, le=MAX_ID, description="the template's id")]
_NOT_FOUND = described(404, "no such template")


def template_out(template: TemplateRecord) -> TemplateOut:
    """The response body of a template."""
    variables = check_templated_content(
        Content(
            template.copy, MediaType(template.media_type), template.media_url, template.buttons
        ),
        accept_too_long=True,
    ).variables
    return TemplateOut(
        id=template.id,
        name=template.name,
        copy=template.copy,
        media_type=MediaType(template.media_type),
        media_url=template.media_url,
        buttons=template.buttons,
        bot_slug=template.bot_slug,
        variables=list(variables),
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


async def _check_bot(conn: Connection, slug: str | None) -> None:
    if slug is not None and not await bot_exists(conn, slug):
        raise invalid("bot_slug", f"no bot is registered as '{slug}'; null makes it every bot's")


async def template_or_404(conn: Connection, template_id: int) -> TemplateRecord:
    """The template, or a 404."""
    template = await template_queries.get_template(conn, template_id)
    if template is None:
        raise not_found(f"template {template_id}")
    return template


@router.get("/templates", summary="Saved templates")
async def list_templates(
    db: DB,
    bot_slug: Annotated[
        str | None, Query(description="only those this bot may use (its own and shared)")
    ] = None,
) -> TemplateList:
    """By name."""
    async with db.read() as conn:
        found = await template_queries.list_templates(conn, bot_slug=bot_slug)
    return TemplateList(items=[template_out(t) for t in found])


@router.post("/templates", status_code=201, summary="Save a template", responses=BODY_ERRORS)
async def create_template(body: TemplateIn, db: DB, now: Now) -> TemplateOut:
    """Checked as a shot's content is (variables, HTML, media, buttons)."""
    buttons = plain_buttons(body.buttons)
    content = Content(body.copy_text, body.media_type, body.media_url, buttons)
    check_templated_content(content, accept_too_long=True)
    async with db.write() as conn:
        await _check_bot(conn, body.bot_slug)
        template = await template_queries.insert_template(
            conn,
            now=now,
            name=body.name,
            copy=body.copy_text,
            media_type=body.media_type.value,
            media_url=body.media_url,
            buttons=buttons,
            bot_slug=body.bot_slug,
        )
    log.info("template saved", extra={"template_id": template.id})
    return template_out(template)


@router.get("/templates/{template_id}", summary="One template", responses=_NOT_FOUND)
async def get_template(template_id: TemplateId, db: DB) -> TemplateOut:
    """The template."""
    async with db.read() as conn:
        return template_out(await template_or_404(conn, template_id))


@router.patch(
    "/templates/{template_id}",
    summary="Change a template",
    responses=_NOT_FOUND | BODY_ERRORS,
)
async def edit_template(
    template_id: TemplateId, body: TemplatePatch, db: DB, now: Now
) -> TemplateOut:
    """Shots already made from it keep their own content."""
    given = body.model_dump(exclude_unset=True)
    for name in ("name", "copy_text", "media_type"):
        if name in given and given[name] is None:
            field = "copy" if name == "copy_text" else name
            raise invalid(field, f"{field} cannot be null; leave it out to keep it")
    async with db.write() as conn:
        template = await template_or_404(conn, template_id)
        changes: dict[str, Any] = {}
        if "name" in given:
            changes["name"] = body.name
        if "copy_text" in given:
            changes["copy"] = body.copy_text
        if "media_type" in given and body.media_type is not None:
            changes["media_type"] = body.media_type.value
            if body.media_type is MediaType.NONE and "media_url" not in given:
                changes["media_url"] = None
        if "media_url" in given:
            changes["media_url"] = body.media_url
        if "buttons" in given:
            changes["buttons"] = plain_buttons(body.buttons)
        if "bot_slug" in given:
            await _check_bot(conn, body.bot_slug)
            changes["bot_slug"] = body.bot_slug
        merged = {
            "copy": template.copy,
            "media_type": template.media_type,
            "media_url": template.media_url,
            "buttons": template.buttons,
        } | changes
        content = Content(
            merged["copy"], MediaType(merged["media_type"]), merged["media_url"], merged["buttons"]
        )
        check_templated_content(content, accept_too_long=True)
        updated = await template_queries.update_template(conn, template_id, now=now, **changes)
        if updated is None:
            raise not_found(f"template {template_id}")
    return template_out(updated)


@router.delete(
    "/templates/{template_id}", status_code=204, summary="Delete a template", responses=_NOT_FOUND
)
async def delete_template(template_id: TemplateId, db: DB) -> Response:
    """Shots made from it are not affected."""
    async with db.write() as conn:
        if not await template_queries.delete_template(conn, template_id):
            raise not_found(f"template {template_id}")
    return Response(status_code=204)


@router.post(
    "/shots/preview",
    summary="What a contact would receive",
    responses=BODY_ERRORS,
)
async def render_preview(body: RenderIn, db: DB, now: Now) -> RenderOut:
    """The content with each contact's variables filled in, exactly as the worker would send
    it: for `telegram_id`, or for the first `limit` contacts of the audience in send order."""
    buttons = plain_buttons(body.buttons)
    content = Content(body.copy_text, body.media_type, body.media_url, buttons)
    templates = check_templated_content(content, accept_too_long=True)
    limit = limit_of(body.media_type.value)
    async with db.read() as conn:
        rules = await bot_rules(conn, body.bot_slug)
        if rules is None:
            raise invalid("bot_slug", f"no bot is registered as '{body.bot_slug}'")
        if body.telegram_id is not None:
            ids = [body.telegram_id]
        else:
            narrowing = await narrowing_of(conn, body.bot_slug, body.filter, body.segment_id)
            ids = await audience_members(
                conn,
                body.bot_slug,
                body.target.value,
                body.recency_days,
                now=now,
                limit=body.limit,
                narrowing=narrowing,
            )
        values = await contact_values(conn, body.bot_slug, ids, templates.variables)
        names = await contact_names(conn, body.bot_slug, ids)
    items = []
    for telegram_id in ids:
        copy, rendered_buttons, missing = templates.render(
            buttons, values.get(telegram_id, ContactValues()), timezone=rules.timezone
        )
        length = visible_length(copy)
        items.append(
            Rendered(
                telegram_id=telegram_id,
                known=telegram_id in names,
                name=names.get(telegram_id),
                copy=copy,
                buttons=rendered_buttons,
                missing=list(missing),
                length=length,
                too_long=length > limit,
            )
        )
    return RenderOut(limit=limit, items=items)
