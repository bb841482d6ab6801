"""The files of one Poly Haven download: choosing a format and resolution from the
``/files`` response, and checking the paths of the files a model includes."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from ...core.archive_names import WINDOWS_INVALID_CHARACTERS
from ...core.errors import (
    ConfigurationError,
    DownloadError,
    NotDownloadableError,
    UnsafeArchiveError,
)
from ...core.models import DownloadOptions
from ..common import (
    gltf_file_uris,
    read_gltf_document,
    relative_path_problem,
    size_of,
    text_of,
)
from .constants import (
    DOWNLOAD_FORMATS,
    LABEL,
    PLATFORM_ID,
    RESOLUTION_NAME_PATTERN,
    RESOLUTION_PATTERN,
)
from .listing import _format_error

log = logging.getLogger(__name__)

MAX_LISTED_FILES = 5  # missing files named in one message


@dataclass(frozen=True)
class RemoteFile:
    """One file of a download: ``path`` is relative to the resolution folder."""

    path: str
    url: str
    size: int | None
    md5: str | None


@dataclass(frozen=True)
class FileBundle:
    """The main file of one format at one resolution, and the files it includes."""

    file_format: str
    resolution: str
    main: RemoteFile
    includes: tuple[RemoteFile, ...]

    @property
    def files(self) -> tuple[RemoteFile, ...]:
        return (self.main, *self.includes)


def choose_bundle(tree, asset_id: str, file_format: str, resolution: str | None) -> FileBundle:
    """Pick one format at one resolution from a ``/files`` response: ``resolution``, or
    the smallest. Raises ``NotDownloadableError`` when the format is not offered,
    ``ConfigurationError`` for an unknown resolution, ``UnsafeArchiveError`` for an
    include path outside the asset folder and ``ResponseFormatError`` for a bad shape.
    """
    if not isinstance(tree, dict):
        raise _format_error(f"the /files response for '{asset_id}' is not a JSON object")
    offered = resolutions_of(tree, file_format)
    if not offered:
        formats = [name for name in tree if resolutions_of(tree, name)]
        raise NotDownloadableError(
            f"{LABEL}: '{asset_id}' has no {file_format.upper()} download (offered: "
            f"{', '.join(formats) or 'none'}). Choose another format.",
            platform=PLATFORM_ID,
        )
    ordered = sorted(offered, key=resolution_order)
    chosen = ordered[0]
    if resolution:
        by_name = {name.lower(): name for name in ordered}
        chosen = by_name.get(resolution.strip().lower())
        if chosen is None:
            raise ConfigurationError(
                f"{LABEL}: '{asset_id}' has no {file_format.upper()} download at resolution "
                f"'{resolution}'. Available resolutions: {', '.join(ordered)}.",
                platform=PLATFORM_ID,
            )
    return _bundle(offered[chosen], asset_id, file_format, chosen)


def resolutions_of(tree: dict, file_format: str) -> dict[str, dict]:
    """Return resolution -> file entry for one format. Texture maps, which sit beside
    the formats, have no entry named after themselves, so they yield nothing."""
    resolutions = tree.get(file_format)
    if not isinstance(resolutions, dict):
        return {}
    found = {
        name: entry[file_format]
        for name, entry in resolutions.items()
        if isinstance(entry, dict) and isinstance(entry.get(file_format), dict)
    }
    # The resolution becomes a folder name, so a name that is not one plain word is
    # left out rather than trusted.
    unsafe = [name for name in found if not RESOLUTION_NAME_PATTERN.fullmatch(name)]
    if unsafe:
        log.warning("platform=%s skipped resolutions with unusable names: %s", PLATFORM_ID, unsafe)
    return {name: entry for name, entry in found.items() if name not in unsafe}


def resolution_order(name: str) -> tuple:
    """Sort key: "1k" < "2k" < "4k" < "8k" < "16k" by number, other names after them."""
    match = RESOLUTION_PATTERN.fullmatch(name.lower())
    return (0, int(match[1]), name) if match else (1, 0, name)


def _bundle(entry: dict, asset_id: str, file_format: str, resolution: str) -> FileBundle:
    where = f"the {file_format} {resolution} files of '{asset_id}'"
    url = _file_url(entry, where)
    main = RemoteFile(
        _main_file_name(url, asset_id, resolution, file_format),
        url,
        size_of(entry.get("size")),
        _md5(entry),
    )
    includes = entry.get("include") or {}
    if not isinstance(includes, dict):
        raise _format_error(f"'include' in {where} is not a JSON object")
    files = [main]
    for path, value in includes.items():
        relative = checked_include_path(path, asset_id)
        if not isinstance(value, dict):
            raise _format_error(f"the include '{path}' in {where} is not a JSON object")
        files.append(
            RemoteFile(
                relative,
                _file_url(value, f"the include '{path}'"),
                size_of(value.get("size")),
                _md5(value),
            )
        )
    seen: set[str] = set()
    for remote in files:
        if remote.path.lower() in seen:
            raise _format_error(f"{where} name '{remote.path}' twice")
        seen.add(remote.path.lower())
    return FileBundle(file_format, resolution, main, tuple(files[1:]))


def check_gltf_includes(bundle: FileBundle, gltf_path: Path, name: str) -> None:
    """Raise ``DownloadError`` naming each buffer or image that the downloaded main
    .gltf names but the bundle does not include.

    Blender would import such a model without the file (a missing buffer fails the
    import), and the asset cache would keep the incomplete download, so it is
    rejected before anything is stored.
    """
    label = f"{LABEL}: {name} ({bundle.main.path})"
    included = {remote.path for remote in bundle.includes}
    missing = []
    for _, decoded in gltf_file_uris(read_gltf_document(gltf_path, label)):
        path, problem = relative_path_problem(decoded)
        if (problem or path not in included) and decoded not in missing:
            missing.append(decoded)
    if not missing:
        return
    listed = ", ".join(f"'{path}'" for path in missing[:MAX_LISTED_FILES])
    if len(missing) > MAX_LISTED_FILES:
        listed += f" and {len(missing) - MAX_LISTED_FILES} more"
    raise DownloadError(
        f"{LABEL}: the {bundle.resolution} glTF of '{name}' names {listed}, which the "
        "asset's file list does not include, so the imported model would be incomplete. "
        "Nothing was stored. Choose another resolution or the FBX format, or report the "
        "asset to Poly Haven.",
        platform=PLATFORM_ID,
    )


def checked_include_path(path: str, asset_id: str) -> str:
    """Return an include's path in normal form, or raise ``UnsafeArchiveError`` when it
    could write outside the asset's folder or cannot be stored on Windows."""
    normal, problem = relative_path_problem(path if isinstance(path, str) else "")
    if problem:
        raise UnsafeArchiveError(
            f"{LABEL}: the include '{path}' of '{asset_id}' {problem}, so nothing was "
            "downloaded. Report the asset to Poly Haven.",
            platform=PLATFORM_ID,
        )
    return normal


def _main_file_name(url: str, asset_id: str, resolution: str, file_format: str) -> str:
    name = unquote(PurePosixPath(urlsplit(url).path).name)
    plain = name not in ("", ".", "..") and not any(
        ord(char) < 32 or char in WINDOWS_INVALID_CHARACTERS or char in "/\\" for char in name
    )
    if plain and name.lower().endswith(f".{file_format}"):
        return name
    return f"{asset_id}_{resolution}.{file_format}"


def _file_kind(remote: RemoteFile, bundle: FileBundle) -> str | None:
    # The main .gltf must be JSON. Other kinds follow the suffix in core.download, which
    # leaves .fbx unchecked because an ASCII FBX is a valid download.
    return "gltf" if remote is bundle.main and bundle.file_format == "gltf" else None


def _requested_format(options: DownloadOptions) -> str:
    value = (options.file_format or "gltf").strip().lower()
    if value not in DOWNLOAD_FORMATS:
        raise ConfigurationError(
            f"{LABEL}: '{options.file_format}' is not a download format of Poly Haven. Use "
            f"one of: {', '.join(DOWNLOAD_FORMATS)}.",
            platform=PLATFORM_ID,
        )
    return value


def _file_url(entry: dict, where: str) -> str:
    url = text_of(entry.get("url"))
    if not url.startswith(("https://", "http://")):
        raise _format_error(f"{where} has no valid 'url'")
    return url


def _md5(entry: dict) -> str | None:
    value = text_of(entry.get("md5")).lower()
    return value if re.fullmatch(r"[0-9a-f]{32}", value) else None
