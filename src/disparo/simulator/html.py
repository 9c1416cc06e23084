"""Telegram's `parse_mode=HTML`: the same tags, entities and error wording as the Bot API.

`parse_html` turns marked-up text into plain text plus MessageEntity objects (offsets in UTF-16
code units), or raises `HtmlError` with the sentence Telegram puts after
"Bad Request: can't parse entities: ".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ALLOWED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_LINK_SCHEMES = frozenset({"http", "https", "tg", "ton", "tonsite"})
_SPECIAL = re.compile(r"[<&]")
_SPACES = frozenset(" \t\r\n\v\f")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(//)?")
_TG_USER = re.compile(r"tg://user\?id=(\d{1,15})$", re.IGNORECASE)
_ASCII_DIGITS = frozenset("0123456789")
_CUSTOM_EMOJI_ID = re.compile(r"-?[1-9][0-9]{0,18}")


class HtmlError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's own wording."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts lengths and offsets in."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(slots=True)
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts
    start: int  # index in the output pieces where the tag's content starts
    expandable: bool


class _Parser:
    """One pass over the source, tdlib style: a stack of open tags, entities on close."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pieces: list[str] = []
        self.utf16 = 0
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8", "surrogatepass"))

    def emit(self, text: str) -> None:
        if text:
            self.pieces.append(text)
            self.utf16 += utf16_len(text)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        source = self.source
        pos = 0
        while True:
            match = _SPECIAL.search(source, pos)
            if match is None:
                self.emit(source[pos:])
                break
            index = match.start()
            self.emit(source[pos:index])
            if source[index] == "&":
                char, pos = decode_entity(source, index)
                self.emit(char if char is not None else "&")
                if char is None:
                    pos = index + 1
            elif index + 1 < len(source) and source[index + 1] == "/":
                pos = self.end_tag(index)
            else:
                pos = self.start_tag(index)
        if self.stack:
            tag = self.stack[-1].tag
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        text = "".join(self.pieces)
        if not _is_utf8(text):
            raise HtmlError(
                "Text contains invalid Unicode characters after decoding HTML entities, check "
                "for unmatched surrogate code units"
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return text, self.entities

    def start_tag(self, begin: int) -> int:
        source, size = self.source, len(self.source)
        i = begin + 1
        while i < size and source[i] not in _SPACES and source[i] != ">":
            i += 1
        if i >= size:
            raise HtmlError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        tag = source[begin + 1 : i].lower()
        if tag not in ALLOWED_TAGS:
            raise HtmlError(
                f'Unsupported start tag "{tag}" at byte offset {self.byte_offset(begin)}'
            )
        argument, expandable, i = self.attributes(tag, begin, i)
        if tag == "span" and argument != "spoiler":
            raise HtmlError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        self.stack.append(_Open(tag, argument, self.utf16, len(self.pieces), expandable))
        return i + 1

    def attributes(self, tag: str, begin: int, i: int) -> tuple[str, bool, int]:
        """Read attributes up to the closing `>`; return the tag's argument and that index."""
        source, size = self.source, len(self.source)
        argument, expandable = "", False
        unclosed = f"Unclosed start tag at byte offset {self.byte_offset(begin)}"
        while True:
            while i < size and source[i] in _SPACES:
                i += 1
            if i >= size:
                raise HtmlError(unclosed)
            if source[i] == ">":
                return argument, expandable, i
            name_begin = i
            while i < size and source[i] not in _SPACES and source[i] not in "=>":
                i += 1
            name = source[name_begin:i].lower()
            if not name:
                raise HtmlError(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            while i < size and source[i] in _SPACES:
                i += 1
            if i < size and source[i] != "=":
                if tag == "blockquote" and name == "expandable":
                    expandable = True
                    continue
                raise HtmlError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {self.byte_offset(begin)}'
                )
            i += 1
            while i < size and source[i] in _SPACES:
                i += 1
            if i >= size:
                raise HtmlError(
                    f'Unclosed start tag "{tag}" at byte offset {self.byte_offset(begin)}'
                )
            value, i = self.attribute_value(i)
            if i >= size:
                raise HtmlError(unclosed)
            if tag == "a" and name == "href":
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value[9:]
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value[3:]
            elif tag == "tg-emoji" and name == "emoji-id":
                argument = value
            elif tag == "blockquote" and name == "expandable":
                expandable = True

    def attribute_value(self, i: int) -> tuple[str, int]:
        source, size = self.source, len(self.source)
        quote = source[i]
        if quote not in "'\"":
            token_begin = i
            while i < size and source[i] in _TOKEN_CHARS:
                i += 1
            if i < size and source[i] not in _SPACES and source[i] != ">":
                raise HtmlError(
                    f"Unexpected end of name token at byte offset {self.byte_offset(token_begin)}"
                )
            return source[token_begin:i].lower(), i
        i += 1
        chars: list[str] = []
        while i < size and source[i] != quote:
            if source[i] == "&":
                char, end = decode_entity(source, i)
                if char is not None:
                    chars.append(char)
                    i = end
                    continue
            chars.append(source[i])
            i += 1
        if i < size:
            i += 1
        return "".join(chars), i

    def end_tag(self, begin: int) -> int:
        source, size = self.source, len(self.source)
        byte_offset = self.byte_offset(begin)
        if not self.stack:
            raise HtmlError(f"Unexpected end tag at byte offset {byte_offset}")
        i = begin + 2
        while i < size and source[i] not in _SPACES and source[i] != ">":
            i += 1
        name = source[begin + 2 : i]  # compared as written: </B> does not close <b>
        while i < size and source[i] in _SPACES:
            i += 1
        if i >= size or source[i] != ">":
            raise HtmlError(f"Unclosed end tag at byte offset {byte_offset}")
        top = self.stack[-1]
        if name and name != top.tag:
            raise HtmlError(
                f'Unmatched end tag at byte offset {byte_offset}, expected "</{top.tag}>", '
                f'found "</{name}>"'
            )
        self.stack.pop()
        if self.utf16 > top.offset:
            self.close_entity(top)
        return i + 1

    def close_entity(self, top: _Open) -> None:
        offset, length = top.offset, self.utf16 - top.offset
        entity: dict[str, Any] = {"type": "", "offset": offset, "length": length}
        kind = _ENTITY_TYPES.get(top.tag)
        if kind is not None:
            entity["type"] = kind
        elif top.tag == "tg-emoji":
            if not _is_custom_emoji_id(top.argument):
                raise HtmlError("Invalid custom emoji identifier specified")
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = top.argument
        elif top.tag == "a":
            url = top.argument or "".join(self.pieces[top.start :])
            if not self.link_entity(entity, url):
                return
        elif top.tag == "blockquote":
            entity["type"] = "expandable_blockquote" if top.expandable else "blockquote"
        elif top.tag == "pre":
            last = self.entities[-1] if self.entities else None
            if last is not None and last["type"] == "code" and _same_span(last, offset, length):
                last["type"] = "pre"  # <pre><code class="language-x"> is one pre entity
                return
            entity["type"] = "pre"
        else:  # code
            last = self.entities[-1] if self.entities else None
            if last is not None and last["type"] == "pre" and _same_span(last, offset, length):
                if top.argument:
                    last["language"] = top.argument
                return
            entity["type"] = "code"
            if top.argument:
                entity["language"] = top.argument  # dropped below unless a pre wraps it
        self.entities.append(entity)

    def link_entity(self, entity: dict[str, Any], url: str) -> bool:
        mention = _TG_USER.match(url.strip())
        if mention is not None:
            entity["type"] = "text_mention"
            entity["user"] = {"id": int(mention.group(1)), "is_bot": False, "first_name": ""}
            return True
        checked = checked_link(url)
        if checked is None:
            return False  # Telegram silently drops a link it cannot use
        entity["type"] = "text_link"
        entity["url"] = checked
        return True


def decode_entity(source: str, index: int) -> tuple[str | None, int]:
    """Decode the HTML entity at `source[index] == "&"`: (character, end) or (None, index)."""
    size = len(source)
    end = index + 1
    if end < size and source[end] == "#":
        end += 1
        code = 0
        if end < size and source[end] == "x":
            end += 1
            while end < size and source[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(source[end], 16)
                end += 1
        else:
            while end < size and source[end].isdigit() and source[end].isascii():
                code = code * 10 + int(source[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - index >= 10:
            return None, index
        char = chr(code)
    else:
        while end < size and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(source[index + 1 : end])
        if named is None:
            return None, index
        char = named
    if end < size and source[end] == ";":
        end += 1
    return char, end


def checked_link(url: str) -> str | None:
    """The URL Telegram keeps for a text link, or None when it would drop it."""
    url = url.strip()
    if not url or any(c in _SPACES for c in url):
        return None
    match = _SCHEME.match(url)
    rest = url[match.end() :] if match else ""
    if match is None or (match.group(2) is None and rest[:1] in _ASCII_DIGITS):  # host:port
        return "http://" + url + ("" if "/" in url else "/")
    if match.group(1).lower() not in _LINK_SCHEMES or not rest:
        return None
    return url


def _same_span(entity: dict[str, Any], offset: int, length: int) -> bool:
    return bool(entity["offset"] == offset and entity["length"] == length)


def _is_utf8(text: str) -> bool:
    """Whether `text` has no surrogate: Telegram refuses any, even two that would pair up."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_custom_emoji_id(argument: str) -> bool:
    """Telegram reads the id as a 64-bit integer written plainly ("05" is not one), never 0."""
    if _CUSTOM_EMOJI_ID.fullmatch(argument) is None:
        return False
    return -(2**63) <= int(argument) < 2**63


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of `source` in Telegram HTML, or `HtmlError`."""
    if "<" not in source and "&" not in source:
        return source, []
    text, entities = _Parser(source).run()
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return text, entities
