"""Text helpers for the panels: sizes, counts and wrapped lines."""

from __future__ import annotations

import textwrap

# Estimates at interface scale 1.0, in pixels, from screenshots of Blender 4.3's
# sidebar: the average width of one character of the interface font, and the room
# an icon and a box's padding take from a line.
CHARACTER_WIDTH = 7
LINE_MARGIN = 48
DEFAULT_LINE_CHARACTERS = 30
MIN_LINE_CHARACTERS = 16


def format_size(size: int | None) -> str:
    """Return a byte count as "12.3 MB"; "size unknown" for None."""
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def format_faces(count: int | None) -> str:
    if count is None:
        return "faces unknown"
    return f"{count:,} faces"


def line_characters(context) -> int:
    """Return about how many characters fit on one line of the region being drawn."""
    region = getattr(context, "region", None)
    width = getattr(region, "width", 0) or 0
    if width <= 0:
        return DEFAULT_LINE_CHARACTERS
    preferences = getattr(context, "preferences", None)
    # The effective scale (user setting times display density); 0 without a window.
    scale = preferences.system.ui_scale if preferences is not None else 0.0
    scale = scale if scale > 0 else 1.0
    characters = (width - LINE_MARGIN * scale) / (CHARACTER_WIDTH * scale)
    return max(MIN_LINE_CHARACTERS, int(characters))


def wrap(text: str, characters: int) -> list[str]:
    return textwrap.wrap(text, width=characters) or [""]
