"""Reading a bulk-import body (JSON lines or CSV) from a file, a bounded chunk of lines at a time.

Blocking and CPU-bound: the import route calls `RowReader.next_chunk` in a worker thread, so
the event loop stays free, and holds at most a chunk or two of rows whatever the body's size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO, Any

import orjson

from disparo.ingest.import_rows import (
    MAX_PAYLOAD_DEPTH,
    Combine,
    RowError,
    Spec,
    check_row,
    csv_record,
    is_depth_error,
    keep_given,
)

MAX_LINE_BYTES = 256 * 1024  # a line (a CSV record) of any import is far shorter
JSON_DEPTH_LIMIT = 1024  # orjson's own limit of nesting
_BOM = b"\xef\xbb\xbf"
_TOO_LONG = (
    f"the line is longer than {MAX_LINE_BYTES // 1024} KiB; no row of an import needs that much"
)

Source = Generator[tuple[int, dict[str, Any] | RowError], None, None]


class UnreadableBodyError(ValueError):
    """The body cannot be read as a whole (its CSV framing is broken); nothing is imported."""


@dataclass(slots=True)
class Chunk:
    """Up to `chunk_lines` lines of the body: their good rows and their rejections.

    `rows` holds one row per key: a key given twice is combined as the upsert would apply the
    two rows one after the other (`keep_given`: the later values win, a None keeping the
    earlier one).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    valid: int = 0
    rejections: list[tuple[int, RowError]] = field(default_factory=list)
    lines: int = 0  # non-blank lines read (rows and rejections, before keys are combined)
    position: int = 0  # bytes of the body read so far (a reader's buffer ahead included)


class RowReader:
    """The rows of an import body (a binary file at its start, closed by `close`),
    `chunk_lines` lines a call.

    Raises RowError for a CSV header that does not fit the spec (before any row) and
    UnreadableBodyError for a CSV that cannot be read on; a bad row is a rejection, never an error.
    """

    def __init__(
        self,
        body: IO[bytes],
        spec: Spec,
        *,
        is_csv: bool,
        chunk_lines: int,
        combine: Combine = keep_given,
    ) -> None:
        self.spec = spec
        self.chunk_lines = chunk_lines
        self.combine = combine
        self._body = body
        self._record_chars = 0
        self.header: list[str] | None = None  # a CSV's column names, once read
        self._source: Source = self._csv_rows(body) if is_csv else _ndjson_rows(body)

    def close(self) -> None:
        """Stop reading and close the body's file."""
        self._source.close()
        self._body.close()

    def records(self) -> Source:
        """(line number, raw row or why it cannot be read) of each line, unchecked."""
        return self._source

    def next_chunk(self) -> Chunk | None:
        """The next chunk of the body, or None once it is all read."""
        chunk = Chunk()
        by_key: dict[Any, dict[str, Any]] = {}
        key_of = itemgetter(*self.spec.key)  # a key's value, or a tuple of its values
        spec = self.spec
        lines = 0
        for line, raw in self._source:
            lines += 1
            try:
                if isinstance(raw, RowError):
                    raise raw
                row = check_row(spec, raw)
            except RowError as exc:
                chunk.rejections.append((line, exc))
            else:
                chunk.valid += 1
                key = key_of(row)
                earlier = by_key.get(key)
                if earlier is None:
                    by_key[key] = row
                else:
                    self.combine(earlier, row)
            if lines >= self.chunk_lines:
                break
        if not lines:
            return None
        chunk.rows = list(by_key.values())
        chunk.lines = lines
        chunk.position = self._body.tell()
        return chunk

    def _csv_lines(self, text: io.TextIOWrapper) -> Iterator[str]:
        """The physical lines of the CSV, refusing a record longer than MAX_LINE_BYTES."""
        while line := text.readline(MAX_LINE_BYTES + 1):
            self._record_chars += len(line)
            if self._record_chars > MAX_LINE_BYTES:
                raise UnreadableBodyError(_TOO_LONG)
            yield line

    def _csv_rows(self, body: IO[bytes]) -> Source:
        """(line number, row as a dict) of a CSV whose header names the columns."""
        text = io.TextIOWrapper(body, encoding="utf-8-sig", newline="")
        reader = csv.reader(self._csv_lines(text))
        try:
            yield from self._csv_records(reader)
        except csv.Error as exc:
            raise UnreadableBodyError(
                f"the CSV cannot be read at line {reader.line_num}: {exc}"
            ) from None
        except UnreadableBodyError as exc:
            raise UnreadableBodyError(
                f"the CSV cannot be read at line {reader.line_num + 1}: {exc}"
            ) from None
        finally:
            text.detach()  # the file is closed by `close`, not with its reader

    def _csv_records(self, reader: Any) -> Source:
        spec = self.spec
        header = next(reader, None)
        if header is None:
            return
        header = [name.strip() for name in header]
        self.header = header
        record = csv_record(spec, header)  # RowError for a column the spec lacks
        missing = [name for name in spec.required if name not in header]
        if missing:
            raise RowError(missing[0], f"the CSV header lacks the required column {missing[0]!r}")
        start = reader.line_num + 1
        self._record_chars = 0
        for values in reader:
            self._record_chars = 0
            if not "".join(values).strip():  # only blanks (or no value at all)
                start = reader.line_num + 1
                continue
            if len(values) != len(header):
                yield (
                    start,
                    RowError(
                        None,
                        f"the row has {len(values)} values but the header names {len(header)}",
                    ),
                )
            elif record is None:
                yield start, dict(zip(header, values, strict=True))
            else:
                yield start, record(values)
            start = reader.line_num + 1


def _ndjson_line(line: bytes) -> dict[str, Any] | RowError:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if is_depth_error(exc):
            return RowError(
                None,
                f"the line nests JSON more than {JSON_DEPTH_LIMIT} levels deep "
                f"(payload accepts at most {MAX_PAYLOAD_DEPTH})",
            )
        return RowError(None, "the line is not valid JSON")
    if not isinstance(value, dict):
        return RowError(None, "each line must be a JSON object")
    return value


def _ndjson_rows(body: IO[bytes]) -> Source:
    """(line number, object or why it is not one) for each non-blank line (ended by \\n)."""
    number = 0
    while line := body.readline(MAX_LINE_BYTES + 1):
        number += 1
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := body.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, RowError(None, _TOO_LONG)
            continue
        if line.strip():
            yield number, _ndjson_line(line)
