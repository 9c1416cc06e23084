"""What Telegram does to a formatted text before sending it, and when it finds the text empty.

Telegram drops ``\\r``, U+2028..U+202E and three combining marks (U+030A, U+0333, U+033F) and
turns every other control character and the tab into a space; it drops entities over whitespace
alone (a link or a pre block holding a space stays); it trims spaces and line breaks from the
end, and from the start up to the first link or pre block that begins among them. Entities keep
pointing at their text; offsets are UTF-16 code units.
"""

from __future__ import annotations

from typing import Any

from disparo.simulator.html import utf16_len

_DROPPED = frozenset("\r\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u030a\u0333\u033f")
_CLEAN = str.maketrans(
    dict.fromkeys(_DROPPED, None) | {code: " " for code in range(33) if chr(code) not in "\r\n"}
)
_WHITESPACE = " \n"
# Entities Telegram keeps over a space (they carry a URL or a block), and those that cannot
# contain one another (the inner one is dropped).
_HIDDEN_DATA = frozenset({"text_link", "text_mention", "pre"})
_CONTINUOUS = _HIDDEN_DATA | {"code", "custom_emoji"}
# Of two on the same text Telegram keeps the one that sorts first: a pre block before code.
_PRIORITY = {"pre": 0, "code": 1, "text_link": 2, "text_mention": 2, "custom_emoji": 3}
# What Telegram counts as nothing at all when it checks that a text is not empty.
_BLANK = frozenset(
    " \n\u00a0\u1680\u180e\u202f\u205f\u2800\u3000\ufeff\ufffc"
    + "".join(chr(code) for code in range(0x2000, 0x2010))
    + "".join(chr(code) for code in range(0xE0000, 0xE0080))
)


def is_blank(text: str) -> bool:
    """Whether Telegram would refuse `text` as empty: blank characters only, or none."""
    return all(char in _BLANK for char in text)


def fix_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """`text` and its entities as Telegram keeps them: cleaned, then trimmed at both ends."""
    text, entities = _clean(text, entities)
    entities = [entity for entity in entities if _holds_text(text, entity)]
    end = len(text.rstrip(_WHITESPACE))
    start = len(text) - len(text.lstrip(_WHITESPACE))
    for entity in _outermost(entities):
        if entity.get("type") in _HIDDEN_DATA:
            start = min(start, int(entity.get("offset", 0)))  # leading run: units are chars
    if start == 0 and end == len(text):
        return text, entities
    kept_text = text[start:end] if start < end else ""
    shift, stop = start, utf16_len(text[:end])
    kept = []
    for entity in entities:
        begin = max(0, int(entity.get("offset", 0)) - shift)
        finish = min(stop, int(entity.get("offset", 0)) + int(entity.get("length", 0))) - shift
        if finish > begin:
            kept.append({**entity, "offset": begin, "length": finish - begin})
    return kept_text, kept


def _clean(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Drop and blank characters as Telegram does; entities shrink over what is dropped."""
    result = text.translate(_CLEAN)
    if len(result) == len(text) or not entities:
        return result, entities
    dropped: list[int] = []  # UTF-16 offsets of dropped characters (all in the BMP)
    offset = 0
    for char in text:
        if char in _DROPPED:
            dropped.append(offset)
        offset += 2 if ord(char) > 0xFFFF else 1

    def moved(position: int) -> int:
        return position - sum(1 for at in dropped if at < position)

    fixed = []
    for entity in entities:
        begin = moved(int(entity.get("offset", 0)))
        finish = moved(int(entity.get("offset", 0)) + int(entity.get("length", 0)))
        if finish > begin:
            fixed.append({**entity, "offset": begin, "length": finish - begin})
    return result, fixed


def _holds_text(text: str, entity: dict[str, Any]) -> bool:
    """Whether Telegram keeps `entity`: it covers more than whitespace (a space will do for a
    link or a pre block)."""
    covered = _utf16_slice(text, int(entity.get("offset", 0)), int(entity.get("length", 0)))
    if entity.get("type") in _HIDDEN_DATA:
        return covered.strip("\n") != ""
    return covered.strip(_WHITESPACE) != ""


def _outermost(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The continuous entities Telegram keeps: one inside another (or overlapping it) goes."""
    ordered = sorted(
        (entity for entity in entities if entity.get("type") in _CONTINUOUS),
        key=lambda entity: (
            int(entity.get("offset", 0)),
            -int(entity.get("length", 0)),
            _PRIORITY[entity["type"]],
        ),
    )
    kept, end = [], 0
    for entity in ordered:
        if int(entity.get("offset", 0)) >= end:
            kept.append(entity)
            end = int(entity.get("offset", 0)) + int(entity.get("length", 0))
    return kept


def _utf16_slice(text: str, offset: int, length: int) -> str:
    if text.isascii():
        return text[offset : offset + length]
    units = text.encode("utf-16-le", "surrogatepass")
    return units[2 * offset : 2 * (offset + length)].decode("utf-16-le", "surrogatepass")
