"""Request parameters as the Bot API reads them: query string, JSON, form or multipart bodies.

Form and multipart values arrive as strings; the accessors coerce them the way Telegram does
(`"123"` is a chat id, `"true"` a boolean, a JSON-serialized `reply_markup` an object).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from disparo.simulator.errors import ApiError, bad_request

Params = dict[str, Any]

_DISPOSITION_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')
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
    mime, _, options = content_type.partition(";")
    mime = mime.strip().lower()
    if mime == "application/json":
        params.update(_json_object(body))
    elif mime == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif mime == "multipart/form-data":
        params.update(parse_multipart(body, _boundary(options)))
    return params


def _json_object(body: bytes) -> Params:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request("can't parse JSON object") from None
    if not isinstance(data, dict):
        raise bad_request("can't parse JSON object")
    return data


def _boundary(options: str) -> bytes:
    for match in _DISPOSITION_PARAM.finditer(";" + options):
        if match.group(1).lower() == "boundary":
            return (match.group(2) or match.group(3) or "").encode("latin-1")
    raise bad_request("multipart body without a boundary")


def parse_multipart(body: bytes, boundary: bytes) -> Params:
    """Fields of a multipart/form-data body; file parts become `UploadedFile`."""
    if not boundary:
        raise bad_request("multipart body without a boundary")
    params: Params = {}
    for part in body.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _DISPOSITION_PARAM.finditer(headers.get("content-disposition", ""))
        }
        name = disposition.get("name") or ""
        if not name:
            continue
        filename: str | None = disposition.get("filename")
        if filename is not None:
            content_type = headers.get("content-type", "application/octet-stream")
            params[name] = UploadedFile(filename, content_type, len(content))
        else:
            params[name] = content.decode("utf-8", "replace")
    return params


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
