"""Telegram's HTML for ``parse_mode=HTML``: a scanner that finds what Telegram would refuse.

The rules are those of Telegram's parser, a little stricter where Telegram would silently drop
formatting (an unknown attribute, bold inside code, a bare ``&``): each problem says what is
wrong, where (line and column), and how to fix it. Lengths are counted as Telegram counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FORMATTING = frozenset(["b", "strong", "i", "em", "u", "ins", "s", "strike", "del"])
_FORMATTING |= {"span", "tg-spoiler"}
_TAGS = _FORMATTING | {"a", "code", "pre", "blockquote", "tg-emoji"}
_TAGS_HELP = (
    'b, strong, i, em, u, ins, s, strike, del, tg-spoiler, span class="tg-spoiler", a href, '
    "code, pre, blockquote, tg-emoji emoji-id"
)
# The one attribute each tag may carry; the others take none.
_ATTRIBUTE = {"a": "href", "span": "class", "code": "class", "blockquote": "expandable"}
_ATTRIBUTE["tg-emoji"] = "emoji-id"
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_SPECIAL = re.compile(r"[<&]")
_ENTITY = re.compile(r"&(?:#([0-9]+)|#[xX]([0-9A-Fa-f]+)|([A-Za-z][A-Za-z0-9]*));")
_ENTITY_NO_SEMICOLON = re.compile(r"&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|lt|gt|amp|quot)(?![;\w])")
_TAG_NAME = re.compile(r"[^\s>]*")
_ATTRIBUTE_NAME = re.compile(r"[^\s=>]+")
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.-]*")
_END_TAG = re.compile(r"</([^\s>]*)\s*>")
_LANGUAGE_OUTSIDE_PRE = (
    "a language is only allowed on <code> directly inside <pre>: "
    'write <pre><code class="language-python">…</code></pre>'
)
BAD_URL_CHAR = re.compile(r"[\s\x00-\x1f\x7f]")
# What Telegram trims from both ends of a text: ASCII controls, spaces and invisible blanks.
_BLANKS = "".join(map(chr, range(33))) + "\x7f\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
_BLANKS += "\u2006\u2007\u2008\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"


@dataclass(frozen=True, slots=True)
class CopyProblem:
    """One thing Telegram would refuse in an HTML copy, and where it is."""

    position: int  # index of the character in the copy, from 0
    line: int  # from 1
    column: int  # from 1
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass(slots=True)
class _Open:
    name: str
    position: int
    where: str
    visible_at: int


class _Scan:
    """One pass over an HTML copy: the visible text Telegram would show, and the problems."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.out: list[str] = []
        self.visible = 0
        self.stack: list[_Open] = []
        self.problems: list[CopyProblem] = []

    def where(self, position: int) -> str:
        return "line {}, column {}".format(*_line_column(self.text, position))

    def problem(self, position: int, message: str) -> None:
        line, column = _line_column(self.text, position)
        self.problems.append(CopyProblem(position, line, column, message))

    def emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.visible += len(chunk)

    def run(self) -> tuple[str, list[CopyProblem]]:
        text, i = self.text, 0
        while i < len(text):
            found = _SPECIAL.search(text, i)
            if found is None:
                self.emit(text[i:])
                break
            j = found.start()
            if j > i:
                self.emit(text[i:j])
            if text[j] == "&":
                i = self.entity(j)
            elif text.startswith("</", j):
                i = self.end_tag(j)
            else:
                i = self.start_tag(j)
        for unclosed in self.stack:
            self.problem(
                unclosed.position,
                f"<{unclosed.name}> is never closed: add </{unclosed.name}> where it should end",
            )
        self.problems.sort(key=lambda problem: problem.position)
        return "".join(self.out), self.problems

    def entity(self, j: int) -> int:
        match = _ENTITY.match(self.text, j)
        if match is None:
            if _ENTITY_NO_SEMICOLON.match(self.text, j):
                self.problem(j, "an entity lacks its closing ';': write it like &amp; or &lt;")
            else:
                self.problem(j, "a bare '&': write &amp; to show an ampersand")
            self.emit("&")
            return j + 1
        decoded = _decoded(match)
        if decoded is None and match.group(3):
            self.problem(
                j,
                f"Telegram does not know the entity {match.group()} and would show it as is: "
                "use &lt; &gt; &amp; &quot;, a numeric entity such as &#160;, or the character",
            )
        elif decoded is None:
            self.problem(j, f"{match.group()} is not a valid character: remove it")
        self.emit(match.group() if decoded is None else decoded)
        return match.end()

    def start_tag(self, j: int) -> int:
        text = self.text
        raw = _TAG_NAME.match(text, j + 1)
        assert raw is not None  # the pattern matches the empty string
        name = raw.group().lower()
        if not name:
            self.problem(j, "a bare '<': write &lt; to show a less-than sign")
        elif name not in _TAGS:
            self.problem(
                j,
                f"the tag <{raw.group()}> is not supported (Telegram accepts only {_TAGS_HELP}): "
                "remove it, or write &lt; to show a '<'",
            )
        if name not in _TAGS:
            self.emit("<")
            return j + 1
        attributes: dict[str, str | None] = {}
        k = raw.end()
        while True:
            k = _skip_spaces(text, k)
            if k >= len(text):
                self.problem(j, f"the tag <{name}> is not finished: add '>' to close it")
                return k
            if text[k] == ">":
                break
            parsed = self.attribute(j, name, k)
            if parsed is None:
                end = text.find(">", k)
                return len(text) if end < 0 else end + 1
            attribute, value, k = parsed
            if attribute in attributes:
                self.problem(j, f"<{name}> has the attribute {attribute} twice: keep one")
            attributes[attribute] = value
        self.check_attributes(j, name, attributes)
        self.check_nesting(j, name)
        self.stack.append(_Open(name, j, self.where(j), self.visible))
        return k + 1

    def attribute(self, j: int, name: str, k: int) -> tuple[str, str | None, int] | None:
        """Parse ``name[=value]`` at ``k``; None (after reporting) when the tag is malformed."""
        text = self.text
        found = _ATTRIBUTE_NAME.match(text, k)
        if found is None:
            self.problem(k, f"an attribute of <{name}> has no name before '='")
            return None
        attribute, k = found.group().lower(), _skip_spaces(text, found.end())
        if k >= len(text) or text[k] != "=":
            return attribute, None, k
        k = _skip_spaces(text, k + 1)
        if k < len(text) and text[k] in "\"'":
            quote = text[k]
            end = text.find(quote, k + 1)
            if end < 0:
                self.problem(k, f"the value of {attribute} in <{name}> lacks its closing {quote}")
                return None
            return attribute, _decode_attribute(text[k + 1 : end]), end + 1
        token = _NAME_TOKEN.match(text, k)
        assert token is not None  # the pattern matches the empty string
        after = text[token.end() : token.end() + 1]
        if after and not (after.isspace() or after == ">"):
            self.problem(k, f'put the value of {attribute} in <{name}> in double quotes: ="…"')
            return None
        return attribute, token.group(), token.end()

    def check_attributes(self, j: int, name: str, attributes: dict[str, str | None]) -> None:
        allowed = _ATTRIBUTE.get(name)
        for attribute in attributes.keys() - {allowed}:
            accepted = f" (it accepts only {allowed})" if allowed else ""
            self.problem(
                j, f"<{name}> does not take the attribute {attribute}{accepted}: remove it"
            )
        value = attributes.get(allowed) if allowed else None
        if name == "a":
            if not value or not value.strip():
                self.problem(j, '<a> needs a link: write <a href="https://example.com">…</a>')
            elif BAD_URL_CHAR.search(value):
                self.problem(j, "the href of <a> contains a space or control character: use %20")
        elif name == "span" and value != "tg-spoiler":
            self.problem(j, '<span> must be <span class="tg-spoiler">; or write <tg-spoiler>')
        elif name == "code" and "class" in attributes:
            parent = self.stack[-1].name if self.stack else None
            if not value or not value.startswith("language-") or value == "language-":
                self.problem(j, 'the class of <code> must name a language: class="language-python"')
            elif parent != "pre":
                self.problem(j, _LANGUAGE_OUTSIDE_PRE)
        elif name == "tg-emoji" and not (value and value.strip().isdigit()):
            self.problem(
                j, '<tg-emoji> needs a numeric emoji-id, as in emoji-id="5368324170671202286"'
            )

    def check_nesting(self, j: int, name: str) -> None:
        for depth, outer in enumerate(self.stack):
            direct = depth == len(self.stack) - 1
            language_block = outer.name == "pre" and name == "code" and direct
            if outer.name in ("pre", "code") and not language_block:
                reason = "Telegram shows code without other formatting"
            elif outer.name in ("a", "tg-emoji") and name not in _FORMATTING:
                reason = "only bold, italic, underline, strikethrough and spoiler may go inside it"
            elif outer.name == name == "blockquote":
                reason = "quotes cannot be nested"
            else:
                continue
            self.problem(
                j,
                f"<{name}> cannot go inside <{outer.name}> (opened at {outer.where}): "
                f"{reason}; close </{outer.name}> first",
            )
            return

    def end_tag(self, j: int) -> int:
        found = _END_TAG.match(self.text, j)
        if found is None:
            self.problem(j, "an end tag is not finished: close it with '>', as in </b>")
            end = self.text.find(">", j)
            return len(self.text) if end < 0 else end + 1
        raw = found.group(1)
        name = raw.lower()
        if not raw:
            self.problem(j, "</> does not name the tag it closes: write it in full, as in </b>")
            if self.stack:
                self.stack.pop()
        elif not self.stack:
            self.problem(j, f"</{raw}> closes nothing: remove it, or add <{name}> before it")
        elif self.stack[-1].name == name:
            if raw != name:
                self.problem(j, f"Telegram matches end tags in lower case only: write </{name}>")
            self.close(self.stack.pop(), j)
        elif any(open_.name == name for open_ in self.stack):
            while self.stack[-1].name != name:
                inner = self.stack.pop()
                self.problem(
                    inner.position,
                    f"<{inner.name}> must be closed before </{name}> at {self.where(j)}: "
                    f"add </{inner.name}> before it (tags must nest, not overlap)",
                )
            self.close(self.stack.pop(), j)
        else:
            top = self.stack[-1]
            self.problem(
                j,
                f"</{raw}> does not match the open <{top.name}> (at {top.where}): "
                f"close it first with </{top.name}>, or remove </{raw}>",
            )
        return found.end()

    def close(self, element: _Open, j: int) -> None:
        if element.name == "tg-emoji" and self.visible == element.visible_at:
            self.problem(j, "<tg-emoji> must contain the emoji shown where custom ones are not")


def _skip_spaces(text: str, k: int) -> int:
    while k < len(text) and text[k].isspace():
        k += 1
    return k


def _line_column(text: str, position: int) -> tuple[int, int]:
    return text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)


def _decoded(match: re.Match[str]) -> str | None:
    """The character an entity stands for; None when Telegram would keep the entity as is."""
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_ENTITIES.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    # Telegram's parser gives up on 0, on U+10FFFF and beyond, and on entities of 11+ characters.
    if not 0 < code < 0x10FFFF or 0xD800 <= code <= 0xDFFF or len(match.group()) > 10:
        return None
    return chr(code)


def _decode_attribute(value: str) -> str:
    # Inside quoted attribute values Telegram decodes entities and keeps a bare '&' as is
    # (links with query strings need it), so no problem is reported here.
    return _ENTITY.sub(lambda match: _decoded(match) or match.group(), value)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def validate_html(text: str) -> list[CopyProblem]:
    """Every problem Telegram's HTML parser would refuse (or silently drop) in ``text``."""
    return _Scan(text).run()[1]


def visible_length(html_text: str) -> int:
    """The length Telegram counts: tags removed, entities decoded, ends trimmed, UTF-16 units."""
    visible = _Scan(html_text).run()[0]
    return _utf16_length(visible.strip(_BLANKS))


def measure_html(text: str) -> tuple[int, list[CopyProblem]]:
    """The visible length of ``text`` (as `visible_length`) and its problems, in one scan."""
    visible, problems = _Scan(text).run()
    return _utf16_length(visible.strip(_BLANKS)), problems
