"""Paths on disk for archive entries. Entry names are checked, normalised to NFC, made
storable on Windows, shortened to fit ``MAX_PATH``, and tagged where two paths would
clash, ignoring case."""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from .errors import UnsafeArchiveError

log = logging.getLogger(__name__)

# Windows MAX_PATH is 260 UTF-16 units including the terminating NUL.
MAX_PATH = 259
NAME_MAX_BYTES = 255  # maximum file name length on most Linux and macOS file systems
MIN_COMPONENT_UNITS = 32
TAG_UNITS = 9  # "~" and 8 hex digits appended to a shortened or clashing name

WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "123456789\u00b9\u00b2\u00b3"}
)
WINDOWS_INVALID_CHARACTERS = frozenset('<>:"|?*')
DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")


def logical_parts(name: str, *, label: str, folder: bool = False) -> tuple[str, ...]:
    """Split an archive entry name into NFC path parts, or raise ``UnsafeArchiveError``
    when it is absolute, names a drive, or climbs out with ``..``.

    Backslashes count as separators because Windows tools write them. Only a
    ``folder`` entry may be empty, as ``./`` is in archives packed from ``.``.
    """
    text = name.replace("\\", "/")
    if text.startswith("/") or DRIVE_PATTERN.match(text):
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' is an absolute path, so nothing was extracted. "
            "The archive may be hostile; get the asset from another source."
        )
    parts = tuple(unicodedata.normalize("NFC", part) for part in text.split("/"))
    parts = tuple(part for part in parts if part not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' climbs out of the archive folder with '..', so "
            "nothing was extracted. The archive may be hostile; get the asset from another "
            "source."
        )
    if not parts and not folder:
        raise UnsafeArchiveError(f"{label}: an entry has the empty name '{name}'.")
    return parts


def windows_safe_name(part: str) -> str:
    """Return ``part`` renamed so that Windows can store it: forbidden characters and
    control characters become ``_``, trailing dots and spaces go, and a reserved device
    name (``CON``, ``COM1``, ...) gets ``_`` after its stem (``CON.png`` -> ``CON_.png``)."""
    characters = []
    for character in part:
        code = ord(character)
        unsafe = code < 32 or 0xD800 <= code <= 0xDFFF or character in WINDOWS_INVALID_CHARACTERS
        characters.append("_" if unsafe else character)
    cleaned = "".join(characters).rstrip(" .") or "_"
    stem, dot, rest = cleaned.partition(".")
    if stem.rstrip(" ").upper() in WINDOWS_RESERVED:
        cleaned = f"{stem}_{dot}{rest}"
    return cleaned


def plan_paths(
    names: Sequence[str], root: Path, *, label: str, max_path: int = MAX_PATH
) -> list[PurePosixPath]:
    """Map archive entry names to the relative paths to write under ``root``.

    Each name is checked with ``logical_parts`` and made Windows-safe. The largest
    common cap on part length is chosen that keeps ``root`` plus every path within
    ``max_path`` UTF-16 units. A part over the cap becomes a prefix, ``~``, 8 hex
    digits of a hash of its original path, and its suffix. The same archive and root
    length give the same paths. Names that clash, ignoring case, get the same kind of
    tag.
    """
    logical = [logical_parts(name, label=label) for name in names]
    safe = [tuple(windows_safe_name(part) for part in parts) for parts in logical]
    root_units = _units(os.path.abspath(root)) + 1
    cap = _component_cap(safe, root_units, max_path, names, label)
    planned = [_capped_parts(parts, original, cap) for parts, original in zip(safe, logical)]
    return _resolve_clashes(planned, logical, cap)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _too_long(part: str, cap: int) -> bool:
    return _units(part) > cap or len(part.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES


def _path_units(parts: tuple[str, ...], root_units: int, cap: int) -> int:
    return root_units + sum(min(_units(part), cap) for part in parts) + len(parts) - 1


def _component_cap(
    entries: list[tuple[str, ...]],
    root_units: int,
    max_path: int,
    names: Sequence[str],
    label: str,
) -> int:
    budget = max_path - TAG_UNITS

    def fits(cap: int) -> bool:
        return all(_path_units(parts, root_units, cap) <= budget for parts in entries)

    if fits(NAME_MAX_BYTES):
        return NAME_MAX_BYTES
    if not fits(MIN_COMPONENT_UNITS):
        worst = max(range(len(entries)), key=lambda i: _path_units(entries[i], root_units, 0))
        raise UnsafeArchiveError(
            f"{label}: the entry '{names[worst][:200]}' is nested too deep to stay within "
            f"{max_path + 1} characters under a folder path {root_units - 1} characters long. "
            "Meshport keeps every path within Windows' limit of 260 characters, so that "
            "its files open on every system. Choose a shorter download folder (or a "
            "shorter BLENDER_USER_RESOURCES for the command line), or unpack the archive "
            "with another tool."
        )
    low, high = MIN_COMPONENT_UNITS, NAME_MAX_BYTES
    while low < high - 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _capped_parts(parts: tuple[str, ...], original: tuple[str, ...], cap: int) -> tuple[str, ...]:
    capped = []
    for index, part in enumerate(parts):
        if _too_long(part, cap):
            part = _tagged(part, cap, "/".join(original[: index + 1]))
        capped.append(part)
    return tuple(capped)


def _tagged(part: str, cap: int, key: str) -> str:
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    tag = "~" + digest
    stem, suffix = posixpath.splitext(part)
    if len(suffix) > 16:
        stem, suffix = part, ""
    while stem and _too_long(stem + tag + suffix, cap):
        stem = stem[:-1]
    return stem.rstrip(" .") + tag + suffix


def _resolve_clashes(
    planned: list[tuple[str, ...]], logical: list[tuple[str, ...]], cap: int
) -> list[PurePosixPath]:
    def fold(parts: tuple[str, ...]) -> str:
        return unicodedata.normalize("NFC", "/".join(parts).casefold())

    folders = {fold(parts[:depth]) for parts in planned for depth in range(1, len(parts))}
    used_paths: set[str] = set()
    result = []
    for parts, original in zip(planned, logical):
        attempt = 0
        candidate = parts
        while fold(candidate) in used_paths or fold(candidate) in folders:
            key = f"clash{attempt}:" + "/".join(original)
            candidate = parts[:-1] + (_tagged(parts[-1], cap, key),)
            attempt += 1
        parts = candidate
        used_paths.add(fold(parts))
        result.append(PurePosixPath(*parts))
    return result
