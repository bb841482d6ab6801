"""Text helpers for the panels: sizes, counts and wrapped lines."""

from __future__ import annotations

import textwrap

# Approximate width of one character of the interface font at 1.0 scale, in pixels.
CHARACTER_WIDTH = 7
DEFAULT_LINE_CHARACTERS = 40
MIN_LINE_CHARACTERS = 20


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
    """Return how many characters fit on one line of the region being drawn."""
    region = getattr(context, "region", None)
    width = getattr(region, "width", 0) or 0
    if width <= 0:
        return DEFAULT_LINE_CHARACTERS
    return max(MIN_LINE_CHARACTERS, width // CHARACTER_WIDTH)


def wrap(text: str, characters: int) -> list[str]:
    return textwrap.wrap(text, width=characters) or [""]
