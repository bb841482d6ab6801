"""Path text as model files write it, with a Windows drive letter or either separator."""

from __future__ import annotations

import logging
import re
from pathlib import PureWindowsPath

log = logging.getLogger(__name__)

DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")


def texture_basename(path_text: str) -> str:
    """Return the file name of a texture path written with either separator."""
    return PureWindowsPath(path_text).name
