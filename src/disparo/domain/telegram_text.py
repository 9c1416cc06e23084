"""What Telegram does to a text once its markup is parsed, and the length it then counts.

Telegram drops ``\\r``, U+2028..U+202E and three combining marks (U+030A, U+0333, U+033F), turns
every other control character and the tab into a space, then trims spaces and line breaks from
both ends; a ``<pre>`` block or a link that starts among the leading ones keeps its own, provided
it holds more than line breaks. A text of blank characters alone (spaces, no-break and zero-width
spaces, and the like) is refused as empty: its length is 0 here. Lengths are UTF-16 code units.
"""

from __future__ import annotations

_DROPPED = "\r\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u030a\u0333\u033f"
_TO_SPACE = "".join(chr(code) for code in range(33) if chr(code) not in "\r\n")
_CLEAN = str.maketrans(dict.fromkeys(_DROPPED, None) | dict.fromkeys(_TO_SPACE, " "))
TRIMMED = " \n"
# What Telegram counts as nothing at all when it checks that a text is not empty.
_BLANK = frozenset(
    " \n\u00a0\u1680\u180e\u202f\u205f\u2800\u3000\ufeff\ufffc"
    + "".join(map(chr, range(0x2000, 0x2010)))
    + "".join(map(chr, range(0xE0000, 0xE0080)))
)


def cleaned(text: str) -> str:
    """``text`` with the characters Telegram drops removed and those it blanks made spaces."""
    return text.translate(_CLEAN)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units (a lone surrogate counts one)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def counted_length(text: str, kept_from: int | None = None) -> int:
    """The length Telegram counts of the cleaned ``text``; 0 when it would find it empty.

    ``kept_from`` is where the first ``<pre>`` block or link that keeps its leading whitespace
    starts (an index into ``text``), if one does.
    """
    end = len(text.rstrip(TRIMMED))
    start = len(text) - len(text.lstrip(TRIMMED))
    if kept_from is not None:
        start = min(start, kept_from)
    visible = text[start:end]
    if all(char in _BLANK for char in visible):
        return 0
    return utf16_length(visible)
