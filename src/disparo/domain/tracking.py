"""Tracked links: a delivery's URL buttons (and, when the shot asks, the links of its copy)
point at `{public}/r/{code}`, and the redirect sends the click on to the original URL.

A code names the shot, the recipient, the variant (0: the shot's own content, n: its n-th
variant) and the link's number in the message, and is signed (HMAC-SHA256, 80 bits): it cannot
be guessed or altered. It carries no URL: the redirect finds the URL again from what the shot
stores (`links` of the same content, for the same recipient), so nothing else is ever
redirected to. Links are numbered in the order `links` reads them: the URL buttons row by row,
then the copy's links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from disparo.domain.sending import Step

SIGNATURE_BYTES = 10
MAX_CODE_LENGTH = 80  # far above any real code (about 30 characters); longer is refused unread
_CONTEXT = b"disparo tracked link v1\x00"
# An http(s) link of Telegram HTML: <a href="..."> (Telegram also accepts single quotes).
_HREF = re.compile(r"""(<a\s+href\s*=\s*)(["'])(https?://[^"']*)\2""", re.IGNORECASE)
_COPY_FIELDS = ("text", "caption")


@dataclass(frozen=True, slots=True)
class LinkRef:
    """What a code names: one link of one recipient's message."""

    shot_id: int
    telegram_id: int
    variant: int  # 0: the shot's own content; n: its n-th variant (position n - 1)
    link: int


def _varint(value: int, out: bytearray) -> None:
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(data) and shift <= 63:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated")


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _unzigzag(value: int) -> int:
    return value // 2 if value % 2 == 0 else -(value + 1) // 2


class LinkSigner:
    """Makes and reads signed codes with one secret (`link_keys` in the database)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a link key needs at least 16 bytes")
        self._secret = secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, _CONTEXT + payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def code(self, ref: LinkRef) -> str:
        """The URL-safe code of `ref`."""
        payload = bytearray()
        for value in (ref.shot_id, _zigzag(ref.telegram_id), ref.variant, ref.link):
            _varint(value, payload)
        signed = bytes(payload) + self._sign(bytes(payload))
        return base64.urlsafe_b64encode(signed).rstrip(b"=").decode()

    def read(self, code: str) -> LinkRef | None:
        """What a code names; None for anything this key did not sign."""
        if not 0 < len(code) <= MAX_CODE_LENGTH or not code.isascii():
            return None
        try:
            raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        except ValueError:
            return None
        payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
        if len(raw) <= SIGNATURE_BYTES or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        values, at = [], 0
        try:
            for _ in range(4):
                value, at = _read_varint(payload, at)
                values.append(value)
        except ValueError:
            return None
        if at != len(payload):
            return None
        shot_id, telegram_id, variant, link = values
        return LinkRef(shot_id, _unzigzag(telegram_id), variant, link)


def _keyboard(step: Step) -> Sequence[Any]:
    markup = step.params.get("reply_markup")
    rows = markup.get("inline_keyboard") if isinstance(markup, Mapping) else None
    return rows if isinstance(rows, list) else ()


def _button_urls(step: Step) -> Iterator[str]:
    for row in _keyboard(step):
        for button in row if isinstance(row, list) else ():
            url = button.get("url") if isinstance(button, Mapping) else None
            if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
                yield url


def links(steps: Sequence[Step], *, copy_links: bool) -> list[str]:
    """The trackable URLs of a delivery, numbered by their place in this list."""
    found: list[str] = []
    for step in steps:
        if not step.carries_copy:
            continue
        found += _button_urls(step)
        if copy_links:
            for field in _COPY_FIELDS:
                copy = step.params.get(field)
                if isinstance(copy, str):
                    found += [html.unescape(m.group(3)) for m in _HREF.finditer(copy)]
    return found


def _tracked_step(step: Step, url_of: Callable[[], str], copy_links: bool) -> Step:
    params = dict(step.params)
    rows = _keyboard(step)
    if rows:
        new_rows = []
        for row in rows:
            new_row = []
            for button in row:
                url = button.get("url") if isinstance(button, Mapping) else None
                if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
                    button = {**button, "url": url_of()}
                new_row.append(button)
            new_rows.append(new_row)
        params["reply_markup"] = {**params["reply_markup"], "inline_keyboard": new_rows}
    if copy_links:
        for field in _COPY_FIELDS:
            copy = params.get(field)
            if isinstance(copy, str):
                params[field] = _HREF.sub(
                    lambda m: f"{m.group(1)}{m.group(2)}{url_of()}{m.group(2)}", copy
                )
    return replace(step, params=params)


@dataclass(frozen=True, slots=True)
class Tracker:
    """Points one shot's links at the redirect, recipient by recipient."""

    redirect_base: str  # `{DISPARO_PUBLIC_URL}/r/`
    signer: LinkSigner
    shot_id: int
    copy_links: bool
    variants: Mapping[str, int]  # a variant's name → its number in codes (position + 1)

    def needed(self, contents: Iterable[Sequence[Step]]) -> Tracker | None:
        """This tracker, or None when none of the shot's contents has a link to track."""
        wanted = any(links(steps, copy_links=self.copy_links) for steps in contents)
        return self if wanted else None

    def apply(
        self, steps: Sequence[Step], telegram_id: int, variant: str | None
    ) -> tuple[Step, ...]:
        """The steps with each trackable URL replaced by its recipient's code, in `links` order."""
        number = self.variants.get(variant or "", 0)
        counter = iter(range(1 << 30))

        def url_of() -> str:
            ref = LinkRef(self.shot_id, telegram_id, number, next(counter))
            return self.redirect_base + self.signer.code(ref)

        return tuple(
            _tracked_step(step, url_of, self.copy_links) if step.carries_copy else step
            for step in steps
        )


@dataclass(frozen=True, slots=True)
class Links:
    """Where tracked links point (`{DISPARO_PUBLIC_URL}/r/`) and the key that signs them."""

    redirect_base: str
    signer: LinkSigner

    @classmethod
    def of(cls, public_url: str, secret: bytes) -> Links:
        """From the public URL (without its trailing slash) and the stored key."""
        return cls(public_url.rstrip("/") + "/r/", LinkSigner(secret))

    def tracker(self, shot_id: int, *, copy_links: bool, variants: Sequence[str]) -> Tracker:
        """The tracker of one shot; `variants`: its variants' names by position."""
        numbers = {name: position + 1 for position, name in enumerate(variants)}
        return Tracker(self.redirect_base, self.signer, shot_id, copy_links, numbers)
