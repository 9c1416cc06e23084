"""A preview of an import file from its first bytes: its format, its columns, and what each of
its first rows becomes (or why it is rejected), before the file is sent whole."""

from __future__ import annotations

import io
from typing import Any

from disparo.ingest.import_reader import RowReader, UnreadableBodyError
from disparo.ingest.import_rows import ATTRIBUTE_COLUMN, ATTRIBUTES, RowError, Spec, check_row

PREVIEW_ROWS = 20
_BOM = b"\xef\xbb\xbf"


def detect_csv(data: bytes) -> bool:
    """A file whose first character (past a BOM and blanks) is not `{` is taken as CSV."""
    return not data.removeprefix(_BOM).lstrip().startswith(b"{")


def _columns_check(spec: Spec, columns: list[str]) -> tuple[list[str], list[str]]:
    """(the columns the spec does not take, its required ones that are missing)."""
    taken = {*spec.columns, *spec.extra}
    unknown = [
        name
        for name in columns
        if name not in taken
        and not (ATTRIBUTES in spec.extra and name.startswith(ATTRIBUTE_COLUMN))
    ]
    return unknown, [name for name in spec.required if name not in columns]


def preview(
    data: bytes, spec: Spec, *, is_csv: bool, complete: bool, limit: int = PREVIEW_ROWS
) -> dict[str, Any]:
    """The preview of a file starting with `data` (the whole file when `complete`; otherwise
    its last, maybe cut, line is left out)."""
    if not complete and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]
    result: dict[str, Any] = {
        "file_format": "csv" if is_csv else "ndjson",
        "columns": [],
        "unknown_columns": [],
        "missing_columns": [],
        "rows": [],
        "error": None,
    }
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        result["error"] = f"the file is not UTF-8 (byte {exc.start} is invalid)"
        return result
    reader = RowReader(io.BytesIO(data), spec, is_csv=is_csv, chunk_lines=limit)
    columns: dict[str, None] = {}
    try:
        for line, raw in reader.records():
            entry: dict[str, Any] = {"line": line, "raw": None, "row": None}
            entry |= {"field": None, "reason": None}
            if isinstance(raw, RowError):
                entry |= {"field": raw.field, "reason": raw.reason}
            else:
                entry["raw"] = raw
                columns.update(dict.fromkeys(raw))
                try:
                    entry["row"] = check_row(spec, raw)
                except RowError as exc:
                    entry |= {"field": exc.field, "reason": exc.reason}
            result["rows"].append(entry)
            if len(result["rows"]) >= limit:
                break
    except RowError as exc:  # a CSV header naming a column the spec lacks, or lacking one
        result["error"] = exc.reason
    except UnreadableBodyError as exc:
        result["error"] = str(exc)
    names = reader.header if reader.header is not None else list(columns)
    result["columns"] = names
    result["unknown_columns"], result["missing_columns"] = _columns_check(spec, names)
    return result
