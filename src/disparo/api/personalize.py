"""Template syntax in a shot's content: checked before it is stored, rendered for a contact."""

from __future__ import annotations

from typing import Any

from disparo.api.content import Content, check_content
from disparo.api.errors import invalid
from disparo.db.contact_values import contact_values
from disparo.db.engine import Connection
from disparo.domain.copy import CAPTION_LIMIT, CAPTIONED_MEDIA, TEXT_LIMIT, visible_length
from disparo.domain.personal import SAMPLE, ShotTemplates
from disparo.domain.variables import ContactValues, VariableError


def limit_of(media_type: str) -> int:
    """Telegram's length limit of the copy for this media type."""
    return CAPTION_LIMIT if media_type in CAPTIONED_MEDIA else TEXT_LIMIT


def parsed_templates(copy: str, buttons: Any) -> ShotTemplates:
    """The content's templates; 422 naming the field with an unknown variable or stray brace."""
    try:
        return ShotTemplates.parse(copy, buttons)
    except VariableError as exc:
        raise invalid(exc.field, str(exc)) from None


def check_templated_content(content: Content, *, accept_too_long: bool) -> ShotTemplates:
    """Refuse (422) content whose templates are wrong, whose HTML or URLs Telegram would refuse
    once filled in, that is too long for every recipient, or that could be too long for some
    recipient unless `accept_too_long` (those recipients then get error `too_long`)."""
    templates = parsed_templates(content.copy, content.buttons)
    # Filled in as for a typical contact: the HTML, the URLs and the length Telegram sees.
    copy, buttons, _ = templates.render(content.buttons, SAMPLE, timezone="UTC")
    check_content(Content(copy, content.media_type, content.media_url, buttons))
    if templates.personal and not accept_too_long:
        limit = limit_of(content.media_type.value)
        bare, _, _ = templates.render(content.buttons, ContactValues(), timezone="UTC")
        if templates.may_exceed(content.media_type.value, visible_length(bare)):
            raise invalid(
                "copy",
                f"with some contacts' values ({', '.join(sorted(templates.variables))}) this copy "
                f"can pass Telegram's limit of {limit} characters, and those recipients would "
                "get error too_long; shorten it, or set accept_too_long: true to send anyway",
            )
    return templates


async def render_for(
    conn: Connection,
    bot_slug: str,
    telegram_id: int,
    templates: ShotTemplates,
    buttons: Any,
    *,
    timezone: str,
) -> tuple[str, Any, tuple[str, ...], bool]:
    """The copy and buttons contact `telegram_id` receives, the variables it lacks, and whether
    it is one of the bot's contacts."""
    found = await contact_values(conn, bot_slug, [telegram_id], templates.variables)
    values = found.get(telegram_id)
    copy, rendered_buttons, missing = templates.render(
        buttons, values or ContactValues(), timezone=timezone
    )
    return copy, rendered_buttons, missing, values is not None
