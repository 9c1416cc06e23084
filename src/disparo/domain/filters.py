"""Audience filters: a JSON tree that narrows a shot's audience, parsed into typed nodes.

Groups: `{"all": [F, ...]}`, `{"any": [F, ...]}`, `{"not": F}`. Leaves: `{"tag": "vip"}`,
`{"last_pix": {"within_days": N}}` or `{"last_pix": {"older_than_days": N}}`,
`{"paid": {"min_cents", "max_cents", "within_days"}}` (each optional), `{"total_paid":
{"min_cents", "max_cents"}}`, `{"event": {"name", "within_days"?}}`, `{"language": ["pt"]}`,
`{"started": {"within_days"}}`, `{"interacted": {"within_days"}}`,
`{"received_shot": {"within_hours"}}`. Every error names the offending node by its path
(`filter.all[2].paid.min_cents`) and says what would be accepted. `db/filters.py` turns a parsed
tree into SQL; nothing here knows about the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from disparo.domain.errors import DomainError
from disparo.domain.tags import TagError, check_tag

MAX_DAYS = 3650
MAX_HOURS = 24 * MAX_DAYS
MAX_CENTS = 10**12  # ten billion reais
MAX_NODES = 100
MAX_DEPTH = 8
_LANGUAGE = re.compile(r"[a-z]{2,3}")


class FilterError(DomainError, ValueError):
    """A filter tree is invalid; `path` names the node (`filter.all[2].paid.min_cents`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Filter


@dataclass(frozen=True, slots=True)
class Tag:
    tag: str


@dataclass(frozen=True, slots=True)
class LastPix:
    """The latest PIX (a PIX funnel event, or any payment created) is within, or older than,
    `days` days."""

    days: int
    older: bool


@dataclass(frozen=True, slots=True)
class Paid:
    """Some paid transaction in the amount range, paid within the last `within_days`."""

    min_cents: int | None = None
    max_cents: int | None = None
    within_days: int | None = None


@dataclass(frozen=True, slots=True)
class TotalPaid:
    """The lifetime sum of paid transactions is in the range (no payment: 0)."""

    min_cents: int | None = None
    max_cents: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    within_days: int | None = None


@dataclass(frozen=True, slots=True)
class Language:
    """Telegram's language_code starts with one of `codes` (`pt` takes `pt` and `pt-br`)."""

    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Started:
    within_days: int


@dataclass(frozen=True, slots=True)
class Interacted:
    within_days: int


@dataclass(frozen=True, slots=True)
class ReceivedShot:
    """A delivery of any shot of the bot was sent to the contact in the last `within_hours`."""

    within_hours: int


Filter = (
    AllOf
    | AnyOf
    | Not
    | Tag
    | LastPix
    | Paid
    | TotalPaid
    | Event
    | Language
    | Started
    | Interacted
    | ReceivedShot
)


class _Parser:
    def __init__(self) -> None:
        self.nodes = 0

    def node(self, value: object, path: str, depth: int) -> Filter:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterError(path, f"a filter holds at most {MAX_NODES} nodes; simplify it")
        if depth > MAX_DEPTH:
            raise FilterError(path, f"groups nest at most {MAX_DEPTH} deep; flatten the filter")
        if not isinstance(value, Mapping) or len(value) != 1:
            raise FilterError(
                path, f"a filter node is an object with exactly one key, one of: {_KINDS}"
            )
        ((kind, body),) = value.items()
        parse = _PARSERS.get(kind)
        if parse is None:
            raise FilterError(path, f"unknown filter '{kind}'; use one of: {_KINDS}")
        return parse(self, body, f"{path}.{kind}", depth)

    def group(self, body: object, path: str, depth: int) -> tuple[Filter, ...]:
        if not isinstance(body, list) or not body:
            raise FilterError(path, "a group is a non-empty list of filters")
        return tuple(self.node(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(body))


def _fields(body: object, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise FilterError(path, f"expected an object with: {', '.join(allowed)}")
    for key in body:
        if key not in allowed:
            raise FilterError(f"{path}.{key}", f"unknown field; use: {', '.join(allowed)}")
    return body


def _int(body: Mapping[str, Any], key: str, path: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FilterError(f"{path}.{key}", f"must be a whole number from {low} to {high}")
    if not low <= value <= high:
        raise FilterError(f"{path}.{key}", f"must be from {low} to {high}, not {value}")
    return value


def _required(body: Mapping[str, Any], key: str, path: str, low: int, high: int) -> int:
    value = _int(body, key, path, low, high)
    if value is None:
        raise FilterError(f"{path}.{key}", f"is required: a whole number from {low} to {high}")
    return value


def _range(body: Mapping[str, Any], path: str) -> tuple[int | None, int | None]:
    low = _int(body, "min_cents", path, 0, MAX_CENTS)
    high = _int(body, "max_cents", path, 0, MAX_CENTS)
    if low is not None and high is not None and low > high:
        raise FilterError(f"{path}.min_cents", f"is above max_cents ({low} > {high})")
    return low, high


def _all(p: _Parser, body: object, path: str, depth: int) -> Filter:
    return AllOf(p.group(body, path, depth))


def _any(p: _Parser, body: object, path: str, depth: int) -> Filter:
    return AnyOf(p.group(body, path, depth))


def _not(p: _Parser, body: object, path: str, depth: int) -> Filter:
    return Not(p.node(body, path, depth + 1))


def _tag(_p: _Parser, body: object, path: str, _depth: int) -> Filter:
    try:
        return Tag(check_tag(body))
    except TagError as exc:
        raise FilterError(path, str(exc)) from None


def _last_pix(_p: _Parser, body: object, path: str, _depth: int) -> Filter:
    fields = _fields(body, path, ("within_days", "older_than_days"))
    if len(fields) != 1:
        raise FilterError(path, "give exactly one of within_days or older_than_days")
    older = "older_than_days" in fields
    key = "older_than_days" if older else "within_days"
    return LastPix(_required(fields, key, path, 1, MAX_DAYS), older)


def _paid(_p: _Parser, body: object, path: str, _depth: int) -> Filter:
    fields = _fields(body, path, ("min_cents", "max_cents", "within_days"))
    low, high = _range(fields, path)
    return Paid(low, high, _int(fields, "within_days", path, 1, MAX_DAYS))


def _total_paid(_p: _Parser, body: object, path: str, _depth: int) -> Filter:
    fields = _fields(body, path, ("min_cents", "max_cents"))
    low, high = _range(fields, path)
    if low is None and high is None:
        raise FilterError(path, "give min_cents, max_cents or both")
    return TotalPaid(low, high)


def _event(_p: _Parser, body: object, path: str, _depth: int) -> Filter:
    fields = _fields(body, path, ("name", "within_days"))
    name = fields.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100 or name != name.strip():
        raise FilterError(f"{path}.name", "is required: the funnel event's name (1–100 chars)")
    return Event(name, _int(fields, "within_days", path, 1, MAX_DAYS))


def _language(_p: _Parser, body: object, path: str, _depth: int) -> Filter:
    if not isinstance(body, list) or not body or len(body) > 50:
        raise FilterError(path, 'a list of 1–50 language codes, e.g. ["pt", "es"]')
    for i, code in enumerate(body):
        if not isinstance(code, str) or _LANGUAGE.fullmatch(code) is None:
            raise FilterError(f"{path}[{i}]", "a language code is 2–3 lower-case letters (pt)")
    return Language(tuple(dict.fromkeys(body)))


def _days(make: Callable[[int], Filter]) -> Callable[[_Parser, object, str, int], Filter]:
    def parse(_p: _Parser, body: object, path: str, _depth: int) -> Filter:
        fields = _fields(body, path, ("within_days",))
        return make(_required(fields, "within_days", path, 1, MAX_DAYS))

    return parse


def _received_shot(_p: _Parser, body: object, path: str, _depth: int) -> Filter:
    fields = _fields(body, path, ("within_hours",))
    return ReceivedShot(_required(fields, "within_hours", path, 1, MAX_HOURS))


_PARSERS: dict[str, Callable[[_Parser, object, str, int], Filter]] = {
    "all": _all,
    "any": _any,
    "not": _not,
    "tag": _tag,
    "last_pix": _last_pix,
    "paid": _paid,
    "total_paid": _total_paid,
    "event": _event,
    "language": _language,
    "started": _days(Started),
    "interacted": _days(Interacted),
    "received_shot": _received_shot,
}
_KINDS = ", ".join(_PARSERS)


def parse_filter(value: object, path: str = "filter") -> Filter:
    """The typed tree of `value` (decoded JSON); FilterError naming the bad node otherwise."""
    return _Parser().node(value, path, 0)
