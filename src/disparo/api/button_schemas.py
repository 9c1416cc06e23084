"""Inline keyboard buttons, as a shot, a variant or a template takes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Button(BaseModel):
    """One inline keyboard button opening a link."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="the button's label", examples=["Comprar agora"])
    url: str = Field(description="http(s):// or tg:// link", examples=["https://example.com/pix"])


ButtonRows = list[list[Button]]


def plain_buttons(buttons: ButtonRows | None) -> list[list[dict[str, str]]] | None:
    """The rows as stored and sent: plain dicts (None stays None)."""
    return None if buttons is None else [[b.model_dump() for b in row] for row in buttons]
