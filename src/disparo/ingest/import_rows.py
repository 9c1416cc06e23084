"""Checking bulk-import rows (from JSON lines or CSV) one by one.

Each kind of import has a column spec: the table's column names, each with a parser that
turns the raw value (JSON value, or CSV text) into what is stored, or says what it accepts.
A bad row is rejected with its line number; the good ones go on. Contacts also take `tags` (a
list; in CSV `vip|curso-a`) and `attributes` (an object; in CSV one `attr.<key>` column each).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from disparo.domain.statuses import ChatState, PaymentStatus
from disparo.domain.tags import TagError, check_tags
from disparo.domain.variables import AttributesError, check_attributes

Parser = Callable[[Any], Any]
Combine = Callable[[dict[str, Any], dict[str, Any]], None]


class RowError(ValueError):
    """One value of one row is unacceptable."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


MAX_BIGINT = 2**63 - 1  # what a BIGINT column holds
_INTEGER = re.compile(r"-?[0-9]+")


def _int(value: Any, *, minimum: int) -> int:
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value)
    if type(value) is not int:
        raise ValueError("an integer")
    if not minimum <= value <= MAX_BIGINT:
        raise ValueError(f"an integer from {minimum} to {MAX_BIGINT}")
    return value


def telegram_id(value: Any) -> int:
    """A Telegram user id: a positive integer."""
    try:
        return _int(value, minimum=1)
    except ValueError:
        raise ValueError("must be a positive integer (the Telegram user id)") from None


def amount_cents(value: Any) -> int:
    """An amount in cents: an integer ≥ 0."""
    try:
        return _int(value, minimum=0)
    except ValueError:
        raise ValueError("must be an integer number of cents, 0 or more") from None


def text(max_length: int) -> Parser:
    """Free text up to `max_length` characters."""

    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return value

    return parse


def one_of(choices: type) -> Parser:
    """One of an enum's values."""
    allowed = [c.value for c in choices]  # type: ignore[attr-defined]

    def parse(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of: {', '.join(allowed)}")
        return str(value)

    return parse


def timestamp(value: Any) -> datetime:
    """ISO 8601 with an offset, or Unix seconds."""
    # An ISO time has a ':' and Unix seconds never do: most values skip the pattern.
    if type(value) is int or (
        isinstance(value, str) and ":" not in value and _INTEGER.fullmatch(value)
    ):
        try:
            return datetime.fromtimestamp(int(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(
                "is not a time Disparo can store (Unix seconds out of range)"
            ) from None
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time with an offset, or Unix seconds")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "must be an ISO 8601 time with an offset, such as 2026-12-01T09:00:00-03:00"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError("has no UTC offset; add one, such as -03:00 or Z")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


def currency(value: Any) -> str:
    """An ISO 4217 code, three letters."""
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise ValueError("must be a three-letter ISO 4217 code, such as BRL")
    return value.upper()


MAX_PAYLOAD_DEPTH = 32  # objects and arrays inside one another, the payload itself counting 1
MAX_PAYLOAD_BYTES = 16 * 1024  # as compact JSON
_TOO_DEEP = f"nests objects and arrays more than {MAX_PAYLOAD_DEPTH} levels deep; flatten it"
_NUL = "must not contain a NUL character (\\u0000)"


def is_depth_error(exc: orjson.JSONDecodeError) -> bool:
    """orjson refuses JSON nested more than 1024 levels deep with this message."""
    return "depth limit" in str(exc)


def _check_nesting(value: dict[str, Any]) -> None:
    """ValueError if `value` nests deeper than MAX_PAYLOAD_DEPTH or holds a NUL character.

    A walk with its own stack: a recursive one could itself run out of stack.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_PAYLOAD_DEPTH:
            raise ValueError(_TOO_DEEP)
        if isinstance(item, dict):
            if any("\x00" in key for key in item):
                raise ValueError(_NUL)
            item = item.values()
        for child in item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif isinstance(child, str) and "\x00" in child:
                raise ValueError(_NUL)


def payload(value: Any) -> Any:
    """A JSON object (a CSV cell holds it as JSON text) of bounded depth and size."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            if is_depth_error(exc):
                raise ValueError(_TOO_DEEP) from None
            raise ValueError("must be a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    _check_nesting(value)
    size = len(orjson.dumps(value))
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"is {size} bytes as JSON, above the {MAX_PAYLOAD_BYTES // 1024} KiB accepted; "
            "keep only the fields you need"
        )
    return value


TAGS = "tags"
ATTRIBUTES = "attributes"
TAG_SEPARATOR = "|"  # between the tags of a CSV cell
ATTRIBUTE_COLUMN = "attr."  # a CSV column attr.<key> holds one attribute


def tag_list(value: Any) -> list[str]:
    """Tags: a JSON list of them (a CSV cell has been split at its | by `csv_record`)."""
    if not isinstance(value, list):
        raise RowError(TAGS, 'tags must be a list of tags, such as ["vip", "curso-a"]')
    try:
        return check_tags(value)
    except TagError as exc:
        raise RowError(TAGS, str(exc)) from None


def attribute_changes(value: Any) -> dict[str, Any] | None:
    """Custom attributes to merge into the contact's: a flat JSON object, null removing a key;
    None when it changes nothing."""
    if not isinstance(value, dict):
        raise RowError(ATTRIBUTES, 'attributes must be a JSON object, such as {"plano": "anual"}')
    try:
        check_attributes(value)
    except AttributesError as exc:
        if exc.key is None:
            raise RowError(ATTRIBUTES, str(exc)) from None
        reason = str(exc)
        if not reason.startswith("attribute key"):  # the others do not name the key
            reason = f"attribute '{exc.key}': {reason}"
        raise RowError(f"{ATTRIBUTES}.{exc.key}", reason) from None
    for key, item in value.items():
        if isinstance(item, str) and "\x00" in item:
            raise RowError(f"{ATTRIBUTES}.{key}", f"attribute '{key}' {_NUL}")
    return value or None


@dataclass(frozen=True, slots=True)
class Spec:
    """The columns of one kind of import: parsers, required ones, and the key of a row.

    `extra` fields are checked only when a row gives them and are in the checked row only
    then: an import without them costs what it did before they existed.
    """

    table: str
    columns: dict[str, Parser]
    required: tuple[str, ...]
    key: tuple[str, ...]
    extra: dict[str, Parser] = field(default_factory=dict)
    # Derived once, for `check_row`'s loop over every row: the names a row may give, and
    # (name, parser, required) of each column.
    known: frozenset[str] = field(init=False, repr=False, compare=False)
    plan: tuple[tuple[str, Parser, bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", frozenset((*self.columns, *self.extra)))
        plan = tuple((n, p, n in self.required) for n, p in self.columns.items())
        object.__setattr__(self, "plan", plan)


CONTACTS = Spec(
    table="telegram_contacts",
    columns={
        "telegram_id": telegram_id,
        "first_name": text(256),
        "last_name": text(256),
        "username": text(64),
        "language_code": text(35),
        "chat_state": one_of(ChatState),
        "started_at": timestamp,
        "last_interaction_at": timestamp,
    },
    required=("telegram_id",),
    key=("telegram_id",),
    extra={TAGS: tag_list, ATTRIBUTES: attribute_changes},
)
EVENTS = Spec(
    table="funnel_events",
    columns={
        "telegram_id": telegram_id,
        "event": text(100),
        "occurred_at": timestamp,
        "payload": payload,
    },
    required=("telegram_id", "event", "occurred_at"),
    key=("telegram_id", "event", "occurred_at"),
)
TRANSACTIONS = Spec(
    table="payment_transactions",
    columns={
        "telegram_id": telegram_id,
        "external_id": text(200),
        "status": one_of(PaymentStatus),
        "amount_cents": amount_cents,
        "currency": currency,
        "created_at": timestamp,
        "paid_at": timestamp,
    },
    required=("telegram_id", "external_id", "status", "amount_cents"),
    key=("external_id",),
)


def check_row(spec: Spec, raw: dict[str, Any]) -> dict[str, Any]:
    """The row with every column of the spec (None where not given); RowError if bad."""
    if not spec.known.issuperset(raw):
        unknown = [name for name in raw if name not in spec.known]
        accepted = ", ".join([*spec.columns, *spec.extra])
        raise RowError(unknown[0], f"{unknown[0]} is not a column; use: {accepted}")
    row: dict[str, Any] = {}
    get = raw.get
    for name, parse, required in spec.plan:
        value = get(name)
        if value is None or value == "":
            if required:
                raise RowError(name, f"{name} is required")
            row[name] = None
            continue
        try:
            row[name] = parse(value)
        except ValueError as exc:
            raise RowError(name, f"{name} {exc}") from None
    for name, parse in spec.extra.items():  # they raise RowError naming their own field
        if (value := get(name)) is not None and value != "":
            row[name] = parse(value)
    return row


def keep_given(earlier: dict[str, Any], later: dict[str, Any]) -> None:
    """Two rows of one key: the later one's values win, a None keeping the earlier value."""
    earlier.update({k: v for k, v in later.items() if v is not None})


def combine_contacts(*, replace_tags: bool) -> Combine:
    """`keep_given` for contacts: attributes merged, and tags added up unless `replace_tags`
    (then the later row's are the whole set) — as if the rows came one after the other."""

    def combine(earlier: dict[str, Any], later: dict[str, Any]) -> None:
        tags, changes = earlier.get(TAGS), earlier.get(ATTRIBUTES)
        keep_given(earlier, later)
        if tags is not None and later.get(TAGS) is not None and not replace_tags:
            earlier[TAGS] = list(dict.fromkeys((*tags, *later[TAGS])))
        if changes is not None and later.get(ATTRIBUTES) is not None:
            earlier[ATTRIBUTES] = {**changes, **later[ATTRIBUTES]}

    return combine


def csv_record(spec: Spec, header: list[str]) -> Callable[[list[str]], dict[str, Any]] | None:
    """How a CSV record under `header` becomes a row as a JSON line would give it: a `tags`
    cell split at its | (empty: no tags), `attr.<key>` cells gathered into `attributes` (an
    empty cell leaves its key out); None when it is just the header's names zipped with the
    values. RowError for a header naming a column the spec lacks."""
    attributes = ATTRIBUTES in spec.extra
    named = [name for name in (*spec.columns, *spec.extra) if name != ATTRIBUTES]
    for name in header:
        if name not in named and not (attributes and name.startswith(ATTRIBUTE_COLUMN)):
            accepted = [*named, f"{ATTRIBUTE_COLUMN}<key>"] if attributes else named
            raise RowError(
                name,
                f"the CSV header names {name!r}, which is not a column; use: {', '.join(accepted)}",
            )
    tags_at = header.index(TAGS) if TAGS in header and TAGS in spec.extra else -1
    keys = [
        (i, name[len(ATTRIBUTE_COLUMN) :])
        for i, name in enumerate(header)
        if attributes and name.startswith(ATTRIBUTE_COLUMN)
    ]
    if tags_at < 0 and not keys:
        return None
    taken = {tags_at, *(i for i, _key in keys)}
    plain = [(i, name) for i, name in enumerate(header) if i not in taken]

    def record(values: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {name: values[i] for i, name in plain}
        if tags_at >= 0:
            parts = (part.strip() for part in values[tags_at].split(TAG_SEPARATOR))
            row[TAGS] = [part for part in parts if part]
        given = {key: values[i] for i, key in keys if values[i] != ""}
        if given:
            row[ATTRIBUTES] = given
        return row

    return record
