"""Tell apart what ``meshport import`` was given: ``PLATFORM:ID``, a file path, or a
Unity package path with the GUID of one of its models (``PATH::GUID``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..core.config import PLATFORM_IDS
from .arguments import UsageError

PREFIX_PATTERN = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9_]*):(?P<rest>.*)", re.DOTALL)
URL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# A model inside a Unity package: Unity names each asset by 32 hex digits.
PACKAGE_MEMBER_PATTERN = re.compile(
    r"(?P<package>.+\.unitypackage)::(?P<guid>[0-9A-Fa-f]{32})", re.DOTALL | re.IGNORECASE
)


@dataclass(frozen=True)
class PlatformSource:
    platform_id: str
    asset_text: str  # an asset id or a model URL; the platform's client parses it

    def __str__(self) -> str:
        return f"{self.platform_id}:{self.asset_text}"


@dataclass(frozen=True)
class FileSource:
    path: Path
    member: str | None = None  # the GUID of one model in a Unity package

    def __str__(self) -> str:
        return f"{self.path}::{self.member}" if self.member else str(self.path)


def parse_source(text: str, available: tuple[str, ...]) -> PlatformSource | FileSource:
    """Return what ``text`` names. An existing path always wins, so a file called
    ``local:x`` can still be imported as a file.

    Raises ``UsageError`` for an unknown or unavailable platform, a URL without its
    platform, or an empty id.
    """
    if Path(text).expanduser().exists():
        return FileSource(Path(text).expanduser())
    member = PACKAGE_MEMBER_PATTERN.fullmatch(text)
    if member and Path(member["package"]).expanduser().is_file():
        return FileSource(Path(member["package"]).expanduser(), member["guid"].lower())
    if URL_PATTERN.match(text):
        raise UsageError(
            f"'{text}' is a URL without its platform. Prefix it with the platform, "
            f"e.g. sketchfab:{text}"
        )
    match = PREFIX_PATTERN.fullmatch(text)
    # A one-letter prefix is a Windows drive ("C:\\models\\x.glb"), not a platform.
    if match is None or len(match["prefix"]) == 1:
        return FileSource(Path(text).expanduser())

    platform_id = match["prefix"].lower()
    asset_text = match["rest"].strip()
    if platform_id not in PLATFORM_IDS:
        raise UsageError(
            f"'{match['prefix']}' in '{text}' is not a platform, and no file has that name. "
            f"Use one of: {', '.join(available)}, or the path of a file."
        )
    if platform_id not in available:
        raise UsageError(
            f"the platform '{platform_id}' is not available in this version of Meshport. "
            f"Use one of: {', '.join(available)}."
        )
    if not asset_text:
        raise UsageError(f"'{text}' names no asset. Write {platform_id}:<id or model URL>.")
    return PlatformSource(platform_id, asset_text)
