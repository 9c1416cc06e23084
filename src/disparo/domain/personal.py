"""A shot's content in template syntax: checked once, rendered for each recipient.

The copy and every button URL are templates (`domain/variables.py`); button labels are plain
text. `ShotTemplates.parse` refuses unknown variables naming the field (`buttons[0][1].url`);
`render` gives one contact's copy and buttons and the variables it had no value for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from disparo.domain.copy import CAPTION_LIMIT, CAPTIONED_MEDIA, TEXT_LIMIT, visible_length
from disparo.domain.errors import DomainError
from disparo.domain.experiment import Variant
from disparo.domain.sending import Step, delivery_steps
from disparo.domain.variables import (
    ATTRIBUTE_PREFIX,
    MAX_ATTRIBUTE_TEXT,
    ContactValues,
    Template,
    parse_template,
    render,
)

# The longest value each variable can take (Telegram's limits on names; amounts up to R$ 10
# billion; an attribute's text is at most MAX_ATTRIBUTE_TEXT); None when nothing bounds it
# (tags: a contact may have any number).
LONGEST_VALUE: dict[str, int | None] = {
    "first_name": 64,
    "last_name": 64,
    "username": 32,
    "last_pix_amount": 22,
    "total_paid": 22,
    "last_pix_at": 10,
    "tags": None,
}
# Every variable filled, for checking a template's HTML and URLs as Telegram will see them.
SAMPLE = ContactValues(
    first_name="Ana",
    last_name="Souza",
    username="ana",
    last_pix_amount_cents=4990,
    total_paid_cents=19_980,
    tags=("vip",),
)


def _button_urls(buttons: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(buttons, list):
        return
    for r, row in enumerate(buttons):
        if not isinstance(row, list):
            continue
        for b, button in enumerate(row):
            if isinstance(button, dict) and isinstance(button.get("url"), str):
                yield f"buttons[{r}][{b}].url", button["url"]


@dataclass(frozen=True, slots=True)
class ShotTemplates:
    """The parsed copy and button URLs of one shot."""

    copy: Template
    urls: dict[str, Template]  # by field path

    @classmethod
    def parse(cls, copy: str, buttons: Any) -> ShotTemplates:
        """VariableError (with the field) on an unknown variable or a stray brace."""
        urls = {path: parse_template(url, path) for path, url in _button_urls(buttons)}
        return cls(parse_template(copy, "copy"), urls)

    @property
    def personal(self) -> bool:
        """Whether any recipient's message differs from another's."""
        return self.copy.personal or any(url.personal for url in self.urls.values())

    @property
    def variables(self) -> tuple[str, ...]:
        """The names of every variable used, once each."""
        found = [v.name for v in self.copy.variables]
        for url in self.urls.values():
            found += [v.name for v in url.variables]
        return tuple(dict.fromkeys(found))

    def render(
        self, buttons: Any, values: ContactValues, *, timezone: str
    ) -> tuple[str, Any, tuple[str, ...]]:
        """One contact's copy and buttons, and the variables of the copy it had no value for."""
        copy = render(self.copy, values, timezone=timezone)
        if not self.urls:
            return copy.text, buttons, copy.missing
        rows = []
        for r, row in enumerate(buttons):
            new_row = []
            for b, button in enumerate(row):
                url = self.urls.get(f"buttons[{r}][{b}].url")
                if url is not None:
                    button = {
                        **button,
                        "url": render(url, values, timezone=timezone, mode="url").text,
                    }
                new_row.append(button)
            rows.append(new_row)
        return copy.text, rows, copy.missing

    def may_exceed(self, media_type: str, bare_length: int) -> bool:
        """Whether some contact's copy could pass Telegram's limit, given the visible length of
        the copy rendered for a contact without any value (`ContactValues()`)."""
        limit = CAPTION_LIMIT if media_type in CAPTIONED_MEDIA else TEXT_LIMIT
        longest = bare_length
        for variable in self.copy.variables:
            if variable.name.startswith(ATTRIBUTE_PREFIX):
                bound: int | None = MAX_ATTRIBUTE_TEXT
            else:
                bound = LONGEST_VALUE.get(variable.name)
            if bound is None:  # tags: nothing bounds how many a contact has
                return True
            longest += bound  # a value's escaped characters count once each, as Telegram counts
        return longest > limit


class TooLongError(DomainError):
    """One recipient's rendered copy passes Telegram's limit (recorded as error `too_long`)."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"the copy rendered for this contact is {length} characters long without its tags; "
            f"Telegram accepts at most {limit}"
        )


@dataclass(frozen=True, slots=True)
class Personalizer:
    """Builds each recipient's delivery steps from a shot whose content has variables."""

    templates: ShotTemplates
    media_type: str
    media_url: str | None
    buttons: Any
    paid_broadcast: bool
    timezone: str

    def steps_for(self, values: ContactValues) -> tuple[Step, ...]:
        """The calls that deliver the shot to the contact with these values; TooLongError when
        its copy passes Telegram's limit, ShotContentError as `delivery_steps` raises it."""
        copy, buttons, _ = self.templates.render(self.buttons, values, timezone=self.timezone)
        limit = CAPTION_LIMIT if self.media_type in CAPTIONED_MEDIA else TEXT_LIMIT
        length = visible_length(copy)
        if length > limit:
            raise TooLongError(length, limit)
        return delivery_steps(
            copy=copy,
            media_type=self.media_type,
            media_url=self.media_url,
            buttons=buttons,
            paid_broadcast=self.paid_broadcast,
        )


def shot_steps(
    *,
    copy: str,
    media_type: str,
    media_url: str | None,
    buttons: Any,
    paid_broadcast: bool,
    templated: bool,
    timezone: str,
) -> tuple[Step, ...] | Personalizer:
    """What a shot sends: the same steps for everyone (a shot without variables: its braces
    written once, then sent exactly as today), or a Personalizer that builds each recipient's.
    ShotContentError or VariableError when the content cannot be sent."""
    if templated:
        templates = ShotTemplates.parse(copy, buttons)
        if templates.personal:
            return Personalizer(templates, media_type, media_url, buttons, paid_broadcast, timezone)
        copy, buttons, _ = templates.render(buttons, ContactValues(), timezone=timezone)
    return delivery_steps(
        copy=copy,
        media_type=media_type,
        media_url=media_url,
        buttons=buttons,
        paid_broadcast=paid_broadcast,
    )


Content = tuple[Step, ...] | Personalizer


@dataclass(frozen=True, slots=True)
class ShotContents:
    """What a shot sends: its own content and each variant's (steps, or a Personalizer)."""

    own: Content
    variants: dict[str, Content]

    @classmethod
    def build(
        cls,
        *,
        copy: str,
        media_type: str,
        media_url: str | None,
        buttons: Any,
        variants: Sequence[Variant],
        paid_broadcast: bool,
        templated: bool,
        timezone: str,
    ) -> ShotContents:
        """Every content of a shot, checked; ShotContentError or VariableError as
        `shot_steps` raises them."""

        def steps(copy: str, media_type: str, media_url: str | None, buttons: Any) -> Content:
            return shot_steps(
                copy=copy,
                media_type=media_type,
                media_url=media_url,
                buttons=buttons,
                paid_broadcast=paid_broadcast,
                templated=templated,
                timezone=timezone,
            )

        return cls(
            steps(copy, media_type, media_url, buttons),
            {v.name: steps(v.copy, v.media_type, v.media_url, v.buttons) for v in variants},
        )

    def of(self, variant: str | None) -> Content:
        """The content a recipient of `variant` gets (None, or unknown: the shot's own)."""
        return self.variants.get(variant or "", self.own)

    def steps_for(self, variant: str | None, values: ContactValues) -> tuple[Step, ...]:
        """One recipient's calls; TooLongError or ShotContentError as `steps_for` raises them."""
        content = self.of(variant)
        return content.steps_for(values) if isinstance(content, Personalizer) else content

    @property
    def per_recipient(self) -> bool:
        """Whether recipients get different calls (variables, or variants)."""
        return isinstance(self.own, Personalizer) or bool(self.variants)

    def sample(self) -> Iterator[tuple[Step, ...]]:
        """Each content's calls, for a contact without any value (what links it carries)."""
        for content in (self.own, *self.variants.values()):
            yield (
                content.steps_for(ContactValues()) if isinstance(content, Personalizer) else content
            )

    @property
    def variables(self) -> tuple[str, ...]:
        """Every personal variable any of the contents reads, sorted."""
        names = {
            name
            for content in (self.own, *self.variants.values())
            if isinstance(content, Personalizer)
            for name in content.templates.variables
        }
        return tuple(sorted(names))
