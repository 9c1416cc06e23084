"""Contact tags: lower-case labels (`[a-z0-9_-]{1,40}`) an operator puts on contacts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from disparo.domain.errors import DomainError

TAG_PATTERN = re.compile(r"[a-z0-9_-]{1,40}")
TAG_RULE = "1–40 characters among a-z, 0-9, _ and -"

# How an import applies a row's tags: beside the contact's own, or as its whole set.
TagsMode = Literal["add", "replace"]


class TagError(DomainError, ValueError):
    """A tag is not 1–40 of a-z, 0-9, _ and -."""


def check_tag(tag: object) -> str:
    """`tag` itself when it is valid; TagError saying why not otherwise (upper case is refused,
    not folded, so that `VIP` and `vip` never look like two tags to the operator)."""
    if not isinstance(tag, str):
        raise TagError(f"a tag is a string ({TAG_RULE}), not {type(tag).__name__}")
    if TAG_PATTERN.fullmatch(tag) is None:
        hint = f"; did you mean '{tag.strip().lower()}'?" if tag != tag.strip().lower() else ""
        raise TagError(f"tag '{tag[:60]}' is invalid: use {TAG_RULE}{hint}")
    return tag


def check_tags(tags: Iterable[object]) -> list[str]:
    """The valid tags, de-duplicated, in their first order."""
    return list(dict.fromkeys(check_tag(tag) for tag in tags))
