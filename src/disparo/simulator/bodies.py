"""Request parameters as the Bot API reads them: query string, JSON, form or multipart bodies.

Form and multipart values arrive as strings; the accessors coerce them the way Telegram does
(`"123"` is a chat id, `"true"` a boolean, a JSON-serialized `reply_markup` an object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from python_multipart import FormParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, parse_options_header

from disparo.simulator.errors import ApiError, bad_request

Params = dict[str, Any]

_TRUE = frozenset({"true", "1", "yes", "on"})


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file sent in a multipart body (an InputFile); only its name and size are kept."""

    filename: str
    content_type: str
    size: int


def parse_params(query: str, content_type: str, body: bytes) -> Params:
    """Every parameter of a request: the query string first, the body's on top of it."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    if not body:
        return params
    mime, options = parse_options_header(content_type)
    if mime == b"application/json":
        params.update(_json_object(body))
    elif mime == b"application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif mime == b"multipart/form-data":
        params.update(parse_multipart(body, options.get(b"boundary", b"")))
    return params


def _json_object(body: bytes) -> Params:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request("can't parse JSON object") from None
    if not isinstance(data, dict):
        raise bad_request("can't parse JSON object")
    return data


def parse_multipart(body: bytes, boundary: bytes) -> Params:
    """Fields of a multipart/form-data body; file parts become `UploadedFile`."""
    if not boundary:
        raise bad_request("multipart body without a boundary")
    params: Params = {}

    def on_field(part: Field) -> None:
        value = part.value or b""
        params[_text(part.field_name)] = value.decode("utf-8", "replace")

    def on_file(part: File) -> None:
        content_type = part.content_type or "application/octet-stream"
        params[_text(part.field_name)] = UploadedFile(
            _text(part.file_name), content_type, part.size
        )
        part.close()

    # the whole body is in memory already: no spilling of uploads to temporary files
    config = {"MAX_MEMORY_FILE_SIZE": len(body)}
    parser = FormParser("multipart/form-data", on_field, on_file, boundary=boundary, config=config)
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError:
        raise bad_request("can't parse multipart/form-data body") from None
    return params


def _text(name: bytes | None) -> str:
    return (name or b"").decode("utf-8", "replace")


def get_str(params: Params, name: str) -> str | None:
    """A string parameter; numbers are taken as their decimal text, like Telegram does."""
    value = params.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise bad_request(f'field "{name}" must be of type String')


def get_int(params: Params, name: str) -> int | None:
    """An integer parameter, from a JSON number or a decimal string."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise bad_request(f"invalid {name} specified")


def get_bool(params: Params, name: str) -> bool:
    """A boolean parameter; absent is false."""
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def get_json(params: Params, name: str, error: str) -> Any:
    """A JSON-serialized parameter: an object as sent in JSON, or its serialization in a form."""
    value = params.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise bad_request(error) from None
    return value


def get_chat_id(params: Params, name: str = "chat_id") -> int:
    """The target chat id; `@username` and other non-numbers are chats this simulator lacks."""
    value = params.get(name)
    if value is None or value == "":
        raise bad_request(f"{name} is empty")
    if isinstance(value, bool):
        raise bad_request("chat not found")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise bad_request("chat not found")


def require(value: Any, error: ApiError) -> Any:
    """`value`, or raise `error` when it is missing."""
    if value is None or value == "":
        raise error
    return value
