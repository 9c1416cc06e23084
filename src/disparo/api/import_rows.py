"""Parsing and checking bulk-import input (JSON lines or CSV) row by row.

Each kind of import has a column spec: the table's column names, each with a parser that
turns the raw value (JSON value, or CSV text) into what is stored, or says what it accepts.
A bad row is rejected with its line number; the good ones go on.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from disparo.domain.statuses import ChatState, PaymentStatus

Parser = Callable[[Any], Any]


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
    if type(value) is int or (isinstance(value, str) and _INTEGER.fullmatch(value)):
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


def payload(value: Any) -> Any:
    """A JSON object (a CSV cell holds it as JSON text)."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("must be a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class Spec:
    """The columns of one kind of import: parsers, required ones, and the key of a row."""

    table: str
    columns: dict[str, Parser]
    required: tuple[str, ...]
    key: tuple[str, ...]


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
    unknown = [name for name in raw if name not in spec.columns]
    if unknown:
        raise RowError(unknown[0], f"{unknown[0]} is not a column; use: {', '.join(spec.columns)}")
    row: dict[str, Any] = {}
    for name, parse in spec.columns.items():
        value = raw.get(name)
        if value is None or value == "":
            if name in spec.required:
                raise RowError(name, f"{name} is required")
            row[name] = None
            continue
        try:
            row[name] = parse(value)
        except ValueError as exc:
            raise RowError(name, f"{name} {exc}") from None
    return row


def ndjson_rows(data: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line number, object or why it is not one) for each non-blank line."""
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield number, RowError(None, "the line is not valid JSON")
            continue
        if not isinstance(value, dict):
            yield number, RowError(None, "each line must be a JSON object")
            continue
        yield number, value


def csv_rows(data: str, spec: Spec) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line number, row as a dict) of a CSV whose header names the columns."""
    reader = csv.reader(io.StringIO(data, newline=""))
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in spec.columns]
    if unknown:
        raise RowError(
            unknown[0],
            f"the CSV header names {unknown[0]!r}, which is not a column; "
            f"use: {', '.join(spec.columns)}",
        )
    missing = [name for name in spec.required if name not in header]
    if missing:
        raise RowError(missing[0], f"the CSV header lacks the required column {missing[0]!r}")
    start = reader.line_num + 1
    for values in reader:
        if not any(v.strip() for v in values):
            start = reader.line_num + 1
            continue
        if len(values) != len(header):
            yield (
                start,
                RowError(
                    None, f"the row has {len(values)} values but the header names {len(header)}"
                ),
            )
        else:
            yield start, dict(zip(header, values, strict=True))
        start = reader.line_num + 1
