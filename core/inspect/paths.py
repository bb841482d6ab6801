"""Path text as model files write it, with a Windows drive letter or either separator."""

from __future__ import annotations

import logging
import re
from pathlib import Path, PureWindowsPath

log = logging.getLogger(__name__)

DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")


def texture_basename(path_text: str) -> str:
    """Return the file name of a texture path written with either separator."""
    return PureWindowsPath(path_text).name


def is_file(path: Path) -> bool:
    """Return whether ``path`` is a regular file; a name the system cannot look up
    (too long, for example) counts as no file."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def shown_name(text: str, limit: int = 120) -> str:
    """Return ``text`` for a message, cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
