"""Telegram's HTML for ``parse_mode=HTML``: a scanner that finds what Telegram would refuse.

The rules are those of Telegram's parser, and a little stricter where Telegram would take the
text but not show it as written (an unknown attribute, bold inside code, a bare ``&``, a link it
drops): such problems carry ``telegram_accepts``. Each problem says what is wrong, where (line
and column), and how to fix it. Lengths are counted as Telegram counts them (`telegram_text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from disparo.domain.telegram_text import cleaned, counted_length
from disparo.domain.telegram_values import (
    decode_attribute,
    decode_entity,
    is_custom_emoji_id,
    link_problem,
)

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
# Elements Telegram keeps whole: one of them inside another is dropped.
_CONTINUOUS = frozenset(["a", "code", "pre", "tg-emoji"])

# Telegram's markup knows only ASCII whitespace: a no-break space is text, even inside a tag.
_SPACES = " \t\r\n\v\f"
_SPECIAL = re.compile(r"[<&]")
_NUMERIC_LOOKALIKE = re.compile(r"&#[xX]?[0-9A-Fa-f]+;")
_NAMED_LOOKALIKE = re.compile(r"&[A-Za-z][A-Za-z0-9]*;")
_TAG_NAME = re.compile(r"[^ \t\r\n\v\f>]*")
_ATTRIBUTE_NAME = re.compile(r"[^ \t\r\n\v\f=>]+")
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.-]*")
_END_TAG = re.compile(r"</([^ \t\r\n\v\f>]*)[ \t\r\n\v\f]*>")
_LANGUAGE_OUTSIDE_PRE = (
    "a language is only allowed on <code> directly inside <pre>: "
    'write <pre><code class="language-python">…</code></pre>'
)


@dataclass(frozen=True, slots=True)
class CopyProblem:
    """One thing Telegram would refuse in an HTML copy, and where it is."""

    position: int  # index of the character in the copy, from 0
    line: int  # from 1
    column: int  # from 1
    message: str
    # Telegram would take the text all the same, showing it otherwise than written (formatting
    # dropped, an entity or link shown as plain text); Disparo refuses it on purpose.
    telegram_accepts: bool = False

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass(slots=True)
class _Open:
    name: str
    position: int
    where: str
    visible_at: int  # in the cleaned visible text
    parsed_at: int  # in the text as parsed, before Telegram cleans it
    keeps_leading: bool  # a <pre> or a kept link: its leading whitespace survives the trim
    emoji_id: str = ""


class _Scan:
    """One pass over an HTML copy: the visible text Telegram would show, and the problems."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.out: list[str] = []
        self.visible = 0
        self.parsed = 0
        self.last_not_newline = -1  # index in the visible text of its last character but '\n'
        self.kept_from: int | None = None
        self.stack: list[_Open] = []
        self.problems: list[CopyProblem] = []

    def where(self, position: int) -> str:
        return "line {}, column {}".format(*_line_column(self.text, position))

    def problem(self, position: int, message: str, *, telegram_accepts: bool = False) -> None:
        line, column = _line_column(self.text, position)
        self.problems.append(CopyProblem(position, line, column, message, telegram_accepts))

    def emit(self, chunk: str) -> None:
        self.parsed += len(chunk)
        chunk = cleaned(chunk)
        shown = chunk.rstrip("\n")
        if shown:
            self.last_not_newline = self.visible + len(shown) - 1
        self.out.append(chunk)
        self.visible += len(chunk)

    def run(self) -> tuple[int, list[CopyProblem]]:
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
        return counted_length("".join(self.out), self.kept_from), self.problems

    def entity(self, j: int) -> int:
        char, end = decode_entity(self.text, j)
        if char is None:
            self.undecoded_entity(j)
            self.emit("&")
            return j + 1
        if 0xD800 <= ord(char) <= 0xDFFF:
            self.problem(
                j,
                f"{self.text[j:end]} is half of a UTF-16 surrogate pair, which Telegram refuses: "
                "write the character itself, or its code point as in &#128512;",
            )
        elif self.text[end - 1] != ";":
            self.problem(
                j,
                f"the entity {self.text[j:end]} lacks its closing ';': write it like &amp; or &lt;",
                telegram_accepts=True,
            )
        self.emit(char)
        return end

    def undecoded_entity(self, j: int) -> None:
        """Report an '&' Telegram would show as is (it takes the text all the same)."""
        numeric = _NUMERIC_LOOKALIKE.match(self.text, j)
        named = _NAMED_LOOKALIKE.match(self.text, j)
        if numeric and self.text.startswith("&#X", j):
            message = f"Telegram reads {numeric.group()} as text: write the x in lower case, &#x"
        elif numeric:
            message = (
                f"{numeric.group()} is not a character Telegram decodes (it would show it as is): "
                "remove it, or write the character itself"
            )
        elif named:
            message = (
                f"Telegram does not know the entity {named.group()} and would show it as is: "
                "use &lt; &gt; &amp; &quot;, a numeric entity such as &#160;, or the character"
            )
        else:
            message = "a bare '&': write &amp; to show an ampersand"
        self.problem(j, message, telegram_accepts=True)

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
        attributes: list[tuple[str, str | None]] = []
        k = raw.end()
        while True:
            k = _skip_spaces(text, k)
            if k >= len(text):
                self.problem(j, f"the tag <{name}> is not finished: add '>' to close it")
                return k
            if text[k] == ">":
                break
            parsed = self.attribute(name, k)
            if parsed is None:
                end = text.find(">", k)
                return len(text) if end < 0 else end + 1
            attribute, value, k = parsed
            attributes.append((attribute, value))
        element = self.opened(j, name, dict(attributes))
        self.check_attributes(j, name, attributes)
        self.check_nesting(j, name)
        self.stack.append(element)
        return k + 1

    def attribute(self, name: str, k: int) -> tuple[str, str | None, int] | None:
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
            return attribute, decode_attribute(text[k + 1 : end]), end + 1
        token = _NAME_TOKEN.match(text, k)
        assert token is not None  # the pattern matches the empty string
        after = text[token.end() : token.end() + 1]
        if after not in _SPACES and after != ">":
            self.problem(k, f'put the value of {attribute} in <{name}> in double quotes: ="…"')
            return None
        # Telegram reads an unquoted value as a name token, in lower case.
        return attribute, token.group().lower(), token.end()

    def opened(self, j: int, name: str, attributes: dict[str, str | None]) -> _Open:
        inside_whole = any(outer.name in _CONTINUOUS for outer in self.stack)
        href = attributes.get("href") if name == "a" else None
        keeps_leading = not inside_whole and (
            name == "pre" or (href is not None and link_problem(href) is None)
        )
        element = _Open(name, j, self.where(j), self.visible, self.parsed, keeps_leading)
        element.emoji_id = attributes.get("emoji-id") or ""
        return element

    def check_attributes(self, j: int, name: str, attributes: list[tuple[str, str | None]]) -> None:
        allowed = _ATTRIBUTE.get(name)
        seen: set[str] = set()
        for attribute, value in attributes:
            if value is None and not (name == "blockquote" and attribute == "expandable"):
                self.problem(
                    j,
                    f'<{name}> has {attribute} without a value: write {attribute}="…" or remove it',
                )
            elif attribute != allowed:
                accepted = f" (it accepts only {allowed})" if allowed else ""
                self.problem(
                    j,
                    f"<{name}> does not take the attribute {attribute}{accepted}: remove it",
                    telegram_accepts=True,
                )
            elif attribute in seen:
                self.problem(
                    j,
                    f"<{name}> has the attribute {attribute} twice: keep one",
                    telegram_accepts=True,
                )
            seen.add(attribute)
        values = [
            value for attribute, value in attributes if attribute == allowed and value is not None
        ]
        if name == "a":
            problem = link_problem(values[-1] if values else "")
            if problem is not None:
                self.problem(j, problem, telegram_accepts=True)
        elif name == "span":
            # Telegram takes the last class that starts with "tg-", and it must be tg-spoiler.
            spoiler = [value for value in values if value.startswith("tg-")]
            if not spoiler or spoiler[-1] != "tg-spoiler":
                self.problem(j, '<span> must be <span class="tg-spoiler">; or write <tg-spoiler>')
        elif name == "code" and values:
            languages = [value for value in values if value.startswith("language-")]
            parent = self.stack[-1].name if self.stack else None
            if not languages or languages[-1] == "language-":
                self.problem(
                    j,
                    'the class of <code> must name a language: class="language-python"',
                    telegram_accepts=True,
                )
            elif parent != "pre":
                self.problem(j, _LANGUAGE_OUTSIDE_PRE, telegram_accepts=True)

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
                telegram_accepts=True,
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
        if not self.stack:
            self.problem(j, f"</{raw}> closes nothing: remove it, or add <{name}> before it")
        elif not raw:
            self.problem(
                j,
                "</> does not name the tag it closes: write it in full, as in </b>",
                telegram_accepts=True,
            )
            self.close(self.stack.pop(), j)
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
        if element.name == "tg-emoji":
            if self.parsed == element.parsed_at:
                self.problem(
                    j,
                    "<tg-emoji> must contain the emoji shown where custom ones are not",
                    telegram_accepts=True,
                )
            elif not is_custom_emoji_id(element.emoji_id):
                self.problem(
                    element.position,
                    '<tg-emoji> needs a numeric emoji-id, as in emoji-id="5368324170671202286"',
                )
        # Telegram keeps such an element if it holds more than line breaks. They never nest,
        # so the first one closed is the first one opened.
        holds_text = self.last_not_newline >= element.visible_at
        if element.keeps_leading and holds_text and self.kept_from is None:
            self.kept_from = element.visible_at


def _skip_spaces(text: str, k: int) -> int:
    while k < len(text) and text[k] in _SPACES:
        k += 1
    return k


def _line_column(text: str, position: int) -> tuple[int, int]:
    return text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)


def validate_html(text: str) -> list[CopyProblem]:
    """Every problem Telegram's HTML parser would refuse (or silently drop) in ``text``."""
    return _Scan(text).run()[1]


def visible_length(html_text: str) -> int:
    """The length Telegram counts: tags removed, entities decoded, ends trimmed, UTF-16 units.

    0 when Telegram would find the text empty (it holds blank characters only).
    """
    return _Scan(html_text).run()[0]


def measure_html(text: str) -> tuple[int, list[CopyProblem]]:
    """The visible length of ``text`` (as `visible_length`) and its problems, in one scan."""
    return _Scan(text).run()
