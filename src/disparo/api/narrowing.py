"""A filter tree or a saved segment in a request: checked, with errors naming the bad node."""

from __future__ import annotations

from typing import Any

from disparo.api.errors import invalid
from disparo.db.engine import Connection
from disparo.db.segments import get_segment
from disparo.domain.filters import Filter, FilterError, parse_filter


def checked_filter(tree: Any, path: str = "filter") -> Filter:
    """The parsed tree; 422 whose field is the bad node's path (`filter.all[2].paid`)."""
    try:
        return parse_filter(tree, path)
    except FilterError as exc:
        raise invalid(exc.path, exc.message) from None


async def narrowing_of(
    conn: Connection, bot_slug: str, filter_tree: Any, segment_id: int | None
) -> Filter | None:
    """What narrows an audience of `bot_slug`: the filter, the segment's filter, or None; 422
    when both are given or the segment is not one of the bot's."""
    if filter_tree is not None and segment_id is not None:
        raise invalid(
            "segment_id", "give either filter or segment_id, not both (a segment is a saved filter)"
        )
    if filter_tree is not None:
        return checked_filter(filter_tree)
    if segment_id is None:
        return None
    segment = await get_segment(conn, segment_id)
    if segment is None or segment.bot_slug != bot_slug:
        raise invalid(
            "segment_id",
            f"bot '{bot_slug}' has no segment {segment_id}; "
            f"see GET /admin/api/bots/{bot_slug}/segments",
        )
    return parse_filter(segment.filter)
