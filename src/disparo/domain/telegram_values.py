"""How Telegram reads the pieces of its HTML: entities, link targets and custom emoji ids."""

from __future__ import annotations

import re

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_LINK_SCHEMES = frozenset(["http", "https", "tg", "ton", "tonsite"])
_INT64 = 2**63
_DIGITS = re.compile(r"[0-9]*")
_HEX_DIGITS = re.compile(r"[0-9A-Fa-f]*")
_LETTERS = re.compile(r"[A-Za-z]*")
_EMOJI_ID = re.compile(r"-?[1-9][0-9]*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(//)?")
BAD_URL_CHAR = re.compile(r"[\s\x00-\x1f\x7f]")


def decode_entity(text: str, j: int) -> tuple[str | None, int]:
    """The character of the entity at ``text[j] == "&"`` and where it ends, as Telegram reads it.

    None when Telegram keeps the '&' as text: an unknown name (names are case-sensitive), the
    code point 0, U+10FFFF and beyond, an entity of ten characters or more before its ';', or
    an upper-case X. The closing ';' is optional.
    """
    k = j + 1
    if text.startswith("#", k):
        hexadecimal = text.startswith("x", k + 1)
        digits = (_HEX_DIGITS if hexadecimal else _DIGITS).match(text, k + 1 + hexadecimal)
        assert digits is not None  # the patterns match the empty string
        k = digits.end()
        if k - j >= 10 or not digits.group():
            return None, j
        code = int(digits.group(), 16 if hexadecimal else 10)
        if not 0 < code < 0x10FFFF:
            return None, j
        char = chr(code)
    else:
        letters = _LETTERS.match(text, k)
        assert letters is not None  # the pattern matches the empty string
        k = letters.end()
        named = _NAMED_ENTITIES.get(letters.group())
        if named is None:
            return None, j
        char = named
    return char, k + 1 if text.startswith(";", k) else k


def decode_attribute(value: str) -> str:
    """A quoted attribute value with its entities decoded; a bare '&' stays (links with query
    strings need it, so Telegram keeps it)."""
    out: list[str] = []
    i = 0
    while (amp := value.find("&", i)) >= 0:
        char, end = decode_entity(value, amp)
        out.append(value[i:amp] + ("&" if char is None else char))
        i = amp + 1 if char is None else end
    out.append(value[i:])
    return "".join(out)


def link_problem(href: str) -> str | None:
    """Why Telegram would not make a link of ``href`` (it shows the text plainly), or None."""
    if not href.strip():
        return '<a> needs a link: write <a href="https://example.com">…</a>'
    if BAD_URL_CHAR.search(href):
        return "the href of <a> contains a space or control character: use %20"
    scheme = _SCHEME.match(href)
    rest = href[scheme.end() :] if scheme else ""
    if scheme is None or (scheme.group(2) is None and rest[:1].isascii() and rest[:1].isdigit()):
        return None  # no scheme (Telegram adds http://), or host:port
    if scheme.group(1).lower() not in _LINK_SCHEMES or not rest:
        return (
            f"Telegram shows a link to {href[: scheme.end()]}… as plain text: "
            "links start with https://, http:// or tg://"
        )
    return None


def is_custom_emoji_id(value: str) -> bool:
    """A custom emoji id as Telegram reads it: a 64-bit integer, written plainly, not 0."""
    if len(value) > 20 or _EMOJI_ID.fullmatch(value) is None:
        return False
    return -_INT64 <= int(value) < _INT64
