"""Personal variables in a shot's copy and button URLs: `{first_name}`, `{first_name|amigo}`.

Syntax: `{name}` or `{name|fallback}`; `{{` and `}}` write literal braces. Names: the contact's
`first_name`, `last_name`, `username`, `last_pix_amount` (BRL, `R$ 49,90`), `total_paid`,
`last_pix_at` (a date in the bot's time zone), `tags`, and `attr.<key>` for a custom attribute.
A value is HTML-escaped in copy and URL-encoded in a URL, so a first name `<b>Ana</b>` can never
break the message or add markup; a fallback is the operator's own text, written as typed in copy
(where it must itself be valid Telegram HTML) and URL-encoded in a URL.
A missing value without a fallback renders as nothing, and `render` reports it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from disparo.domain.errors import DomainError

CONTACT_VARIABLES = (
    "first_name",
    "last_name",
    "username",
    "last_pix_amount",
    "total_paid",
    "last_pix_at",
    "tags",
)
ATTRIBUTE_PREFIX = "attr."
ACCEPTED = ", ".join(f"{{{name}}}" for name in CONTACT_VARIABLES) + ", {attr.<key>}"
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_]{1,40}")
# One token: an escaped brace, or a variable with an optional fallback (no braces inside).
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}|]*)(?:\|([^{}]*))?\}|[{}]")


class VariableError(DomainError, ValueError):
    """A template names an unknown variable or has an unmatched brace."""

    def __init__(self, message: str, field: str = "copy") -> None:
        super().__init__(message)
        self.field = field


MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_TEXT = 1000


class AttributesError(DomainError, ValueError):
    """A contact's custom attributes are not a flat object of short values; `key` names the
    offending one (None for the object as a whole)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def check_attributes(values: Mapping[str, object]) -> None:
    """Refuse attributes {attr.<key>} could not read: keys 1–40 of A-Z a-z 0-9 _, values text
    (at most 1000 characters), number, boolean, or null (which removes the key)."""
    if len(values) > MAX_ATTRIBUTES:
        raise AttributesError(f"a contact holds at most {MAX_ATTRIBUTES} attributes")
    for key, value in values.items():
        if not _ATTRIBUTE_KEY.fullmatch(key):
            raise AttributesError(
                f"attribute key '{key[:50]}' is invalid: use 1–40 of A-Z, a-z, 0-9 and _", key
            )
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_TEXT:
            raise AttributesError(f"at most {MAX_ATTRIBUTE_TEXT} characters", key)
        if isinstance(value, str) and "\x00" in value:
            raise AttributesError("must not contain a NUL character (\\u0000)", key)
        if value is not None and not isinstance(value, str | int | float | bool):
            raise AttributesError("a value is text, a number or a boolean (flat, no objects)", key)


@dataclass(frozen=True, slots=True)
class Variable:
    """One `{name|fallback}`; `fallback` None when there is none."""

    name: str
    fallback: str | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """A text split into literal parts and variables, in order."""

    parts: tuple[str | Variable, ...]

    @property
    def variables(self) -> tuple[Variable, ...]:
        """Its variables, in order of appearance."""
        return tuple(part for part in self.parts if isinstance(part, Variable))

    @property
    def personal(self) -> bool:
        """Whether it renders differently for different contacts."""
        return any(isinstance(part, Variable) for part in self.parts)


def _check_name(name: str, where: str) -> None:
    if name in CONTACT_VARIABLES:
        return
    if name.startswith(ATTRIBUTE_PREFIX) and _ATTRIBUTE_KEY.fullmatch(
        name[len(ATTRIBUTE_PREFIX) :]
    ):
        return
    shown = name if len(name) <= 40 else f"{name[:37]}..."
    raise VariableError(
        f"unknown variable {{{shown}}}; use one of: {ACCEPTED} "
        "(write {{ and }} for literal braces)",
        where,
    )


def parse_template(text: str, where: str = "copy") -> Template:
    """The template of `text`; VariableError naming the variable or the stray brace."""
    parts: list[str | Variable] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        if token in ("{", "}"):
            raise VariableError(
                f"unmatched '{token}' at character {match.start() + 1}; write {token * 2} for a "
                "literal brace, or {first_name} for a variable",
                where,
            )
        name = (match.group(1) or "").strip()
        _check_name(name, where)
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(Variable(name, match.group(2)))
    literal.append(text[position:])
    if "".join(literal):
        parts.append("".join(literal))
    return Template(tuple(parts))


def format_brl(cents: int) -> str:
    """`R$ 1.234,56` for 123456."""
    sign = "-" if cents < 0 else ""
    reais, centavos = divmod(abs(cents), 100)
    return f"{sign}R$ {reais:,}".replace(",", ".") + f",{centavos:02d}"


@dataclass(frozen=True, slots=True)
class ContactValues:
    """What one contact's variables read (None: unknown)."""

    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    last_pix_amount_cents: int | None = None
    total_paid_cents: int | None = None
    last_pix_at: datetime | None = None
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, object] = field(default_factory=dict)

    def value(self, name: str, timezone: str) -> str | None:
        """The text of variable `name` for this contact; None when it has no value."""
        if name.startswith(ATTRIBUTE_PREFIX):
            found = self.attributes.get(name[len(ATTRIBUTE_PREFIX) :])
            if found is None or found == "":
                return None
            if isinstance(found, bool):
                return "sim" if found else "não"
            return str(found)
        if name == "last_pix_amount":
            cents = self.last_pix_amount_cents
            return None if cents is None else format_brl(cents)
        if name == "total_paid":
            return None if self.total_paid_cents is None else format_brl(self.total_paid_cents)
        if name == "last_pix_at":
            moment = self.last_pix_at
            return (
                None
                if moment is None
                else moment.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y")
            )
        if name == "tags":
            return ", ".join(self.tags) or None
        text = getattr(self, name)
        return text or None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered text and the variables that had no value (and no fallback)."""

    text: str
    missing: tuple[str, ...] = ()


def render(
    template: Template,
    values: ContactValues,
    *,
    timezone: str,
    mode: Literal["html", "url"] = "html",
) -> Rendered:
    """`template` for one contact: values HTML-escaped (copy) or percent-encoded (URL)."""
    out: list[str] = []
    missing: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        found = values.value(part.name, timezone)
        if found is None:
            if part.fallback is None:
                missing.append(part.name)
            else:  # the operator's own text: as typed in copy, encoded in a URL
                out.append(part.fallback if mode == "html" else quote(part.fallback, safe=""))
            continue
        out.append(html.escape(found, quote=False) if mode == "html" else quote(found, safe=""))
    return Rendered("".join(out), tuple(dict.fromkeys(missing)))
