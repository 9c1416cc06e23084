"""Inline keyboard buttons, as a shot, a variant or a template takes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Button(BaseModel):
    """One inline keyboard button opening a link."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="the button's label", examples=["Comprar agora"])
    url: str = Field(description="http(s):// or tg:// link", examples=["https://example.com/pix"])


ButtonRows = list[list[Button]]
