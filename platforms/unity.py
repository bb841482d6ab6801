"""Unity packages: the models inside ``.unitypackage`` files already on disk. No
network, no key.

Unity Asset Store purchases can be downloaded only by Unity's editor, because the
sign-in uses an OAuth client that Unity issues to its editor alone and the packages
arrive encrypted. This client therefore sends no request to Unity. It searches the
packages that the editor has already downloaded (its ``Asset Store-5.x`` folder, see
``core.unitypackage.unity_download_folders``) and a folder the user names
(``settings.unity_dir``, from ``MESHPORT_UNITY_DIR`` or the add-on preference).

An asset id is ``<package path relative to its folder>::<GUID>``, where the GUID
names the model's folder inside the package.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..core.config import PlatformSettings, Settings, resolve_unity_dir
from ..core.errors import (
    ConfigurationError,
    MeshportError,
    NotFoundError,
    UnsupportedFileError,
)
from ..core.formats import MODEL_SUFFIXES
from ..core.jobs import JobContext
from ..core.models import (
    Asset,
    DownloadedAsset,
    DownloadOptions,
    SearchPage,
    SearchQuery,
)
from ..core.unitypackage import (
    ASSET_STORE_FOLDER,
    GUID_PATTERN,
    PackageAsset,
    PackageListing,
    extract_model,
    find_unity_packages,
    read_package,
    unity_download_folders,
)
from .base import PlatformClient
from .common import offset_page_request, offset_page_token

log = logging.getLogger(__name__)

PLATFORM_ID = "unity"
LABEL = "Unity packages"
UNITY_DIR_VARIABLE = "MESHPORT_UNITY_DIR"
PREFERENCE = "Unity Packages Folder"
PACKAGE_SUFFIX = ".unitypackage"
ID_SEPARATOR = "::"
STORE_LICENSE = "Unity Asset Store EULA"
OTHER_LICENSE = "see the package"
NOTICE = (
    "Unity Asset Store purchases cannot be downloaded by a third-party tool, because "
    "Unity's sign-in works only in its editor and the packages are encrypted. Meshport "
    "imports .unitypackage files already on disk: those Unity's editor downloaded and "
    "those in the folder you set."
)
MAX_COUNT = 100
MAX_CACHED_LISTINGS = 64
# Hex digits in the extraction folder's name, kept short because many Windows setups
# limit paths to 260 characters.
DIGEST_LENGTH = 12
DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class PackageFile:
    """A package found under one of the searched folders."""

    root: Path  # the resolved folder it was found in
    relative: str  # its path under ``root`` with "/" separators
    path: Path  # the resolved file, inside ``root``
    stat: os.stat_result

    @property
    def version(self) -> str:
        return f"{self.stat.st_size}-{self.stat.st_mtime_ns}"


class UnityPackageClient(PlatformClient):
    """Searches and extracts the FBX, OBJ, GLB and glTF models inside Unity packages.

    It works with online access off, because it sends no request.
    """

    platform_id = PLATFORM_ID
    label = LABEL
    # It sends no request to any Unity API, so the panel shows no private-API warning.
    official = True
    notice = NOTICE
    formats = tuple(MODEL_SUFFIXES.values())

    def __init__(self, settings: Settings):
        # This platform needs no URL or key, so settings built without its entry work too.
        if PLATFORM_ID not in settings.platforms:
            settings = settings.with_platform(PlatformSettings(PLATFORM_ID))
        super().__init__(settings)

    def search(self, query: SearchQuery, context: JobContext | None = None) -> SearchPage:
        """Return one page of the models whose package file name and Unity project path
        together contain every word of ``query.text``, ignoring case. A package that
        cannot be read is skipped with a logged warning. Raises ``ConfigurationError``
        for a missing folder, any filter (this platform has none) or an invalid page
        token.
        """
        text, count, offset = _page_request(query)
        words = text.lower().split()
        matches: list[tuple[PackageFile, PackageAsset]] = []
        for package in self.packages(context):
            if context is not None:
                context.raise_if_cancelled()
            listing = _listing_for_search(package)
            if listing is None:
                continue
            for model in listing.models():
                searched = f"{package.path.name} {model.pathname}".lower()
                if all(word in searched for word in words):
                    matches.append((package, model))
        matches.sort(key=lambda match: (match[0].relative.lower(), match[1].pathname.lower()))

        end = offset + count
        results = [_asset(package, model) for package, model in matches[offset:end]]
        next_page = offset_page_token(text, count, end) if end < len(matches) else None
        return SearchPage(results, next_page)

    def get_asset(self, asset_id: str, context: JobContext | None = None) -> Asset:
        """Return the model an id names. Raises ``ConfigurationError`` for an id that
        leaves the searched folders, ``NotFoundError`` for a package or GUID that is
        gone, and the package's own error when it cannot be read."""
        package, guid = self._resolve(asset_id)
        model = _find_model(_cached_listing(package), guid, package)
        return _asset(package, model)

    def download(
        self,
        asset: Asset,
        destination: Path,
        context: JobContext,
        options: DownloadOptions = DownloadOptions(),
    ) -> DownloadedAsset:
        """Extract the model and the textures it needs into
        ``destination/<hash of id and version>/``, replacing an earlier extraction.

        ``options.file_format`` must match the model; ``options.resolution`` raises
        ``ConfigurationError``, because a packaged file has only one. A failed or
        cancelled extraction leaves no folder behind.
        """
        package, guid = self._resolve(asset.asset_id)
        model = _find_model(_cached_listing(package), guid, package)
        _check_options(options, model)
        current = _asset(package, model)
        if asset.version and asset.version != current.version:
            log.info(
                "platform=%s package=%s changed since the search; extracting the current file",
                PLATFORM_ID,
                package.relative,
            )
        digest = hashlib.sha256(f"{current.asset_id}\0{current.version}".encode()).hexdigest()
        target = Path(destination) / digest[:DIGEST_LENGTH]

        context.raise_if_cancelled()
        context.report_progress(
            None, f"{LABEL}: extracting '{model.name}' from '{package.path.name}'"
        )
        shutil.rmtree(target, ignore_errors=True)
        extracted = extract_model(package.path, model, target)
        if context.cancelled:
            shutil.rmtree(target, ignore_errors=True)
            context.raise_if_cancelled()

        context.report_progress(1.0, f"{LABEL}: extracted '{model.name}'")
        log.info(
            "platform=%s extracted %s from %s to %s (%d files)",
            PLATFORM_ID,
            model.pathname,
            package.path,
            target,
            len(extracted.files),
        )
        return DownloadedAsset(current, extracted.model, target, MODEL_SUFFIXES[model.suffix])

    def parse_asset_id(self, text: str) -> str:
        """Return the id in normal form: ``<relative package path>::<lower-case GUID>``.

        Raises ``ConfigurationError`` for text without a GUID, an absolute package
        path, or one that leaves its folder with ``..``.
        """
        value = (text or "").strip().replace("\\", "/")
        package_part, separator, guid = value.rpartition(ID_SEPARATOR)
        if not separator or not GUID_PATTERN.match(guid):
            raise ConfigurationError(
                f"{LABEL}: '{text}' is not a Unity package asset id. Use "
                "'<package path>::<32-hex-digit GUID>', as search results give it.",
                platform=PLATFORM_ID,
            )
        parts = [part for part in package_part.split("/") if part not in ("", ".")]
        escapes = package_part.startswith("/") or DRIVE_PATTERN.match(package_part)
        if escapes or ".." in parts or not parts or not _is_package_name(parts[-1]):
            raise ConfigurationError(
                f"{LABEL}: '{package_part}' is not a .unitypackage file inside the searched "
                "folders. Use the path relative to the folder, as search results give it.",
                platform=PLATFORM_ID,
            )
        return "/".join(parts) + ID_SEPARATOR + guid.lower()

    def roots(self) -> list[Path]:
        """Return the existing folders to search, resolved: the user's folder first,
        then Unity's download folders.

        Raises ``ConfigurationError`` when the user's folder is set but missing, or
        when no folder exists at all.
        """
        roots = []
        user_folder = self.settings.unity_dir or resolve_unity_dir()
        if user_folder is not None and str(user_folder).strip():
            folder = Path(user_folder).expanduser()
            if not folder.is_dir():
                raise ConfigurationError(
                    f"{LABEL}: the folder '{folder}' does not exist or is not a folder. Set "
                    f"{UNITY_DIR_VARIABLE} or the '{PREFERENCE}' preference to an existing "
                    "folder of .unitypackage files.",
                    platform=PLATFORM_ID,
                )
            roots.append(folder.resolve())
        unity_folders = _unity_folders()
        roots.extend(folder.resolve() for folder in unity_folders if folder.is_dir())
        if not roots:
            searched = ", ".join(f"'{folder}'" for folder in unity_folders) or "none known"
            raise ConfigurationError(
                f"{LABEL}: no folder of .unitypackage files found (Unity's download folders: "
                f"{searched}). Download the package in Unity's Package Manager, or set "
                f"{UNITY_DIR_VARIABLE} or the '{PREFERENCE}' preference to a folder of "
                ".unitypackage files.",
                platform=PLATFORM_ID,
            )
        return list(dict.fromkeys(roots))

    def packages(self, context: JobContext | None = None) -> list[PackageFile]:
        """Return the packages under the searched folders, each once. A package that
        two folders contain belongs to the first, as ``_resolve`` finds it."""
        found: list[PackageFile] = []
        seen_relative: set[str] = set()
        seen_files: set[Path] = set()
        for root in self.roots():
            for path in find_unity_packages([root]):
                if context is not None:
                    context.raise_if_cancelled()
                relative = path.relative_to(root).as_posix()
                resolved = path.resolve()
                if not resolved.is_relative_to(root):
                    log.info("platform=%s %s links outside %s; skipped", PLATFORM_ID, path, root)
                    continue
                if relative in seen_relative or resolved in seen_files:
                    continue
                try:
                    stat = resolved.stat()
                except OSError as error:
                    log.warning("platform=%s cannot read %s: %s", PLATFORM_ID, path, error)
                    continue
                seen_relative.add(relative)
                seen_files.add(resolved)
                found.append(PackageFile(root, relative, resolved, stat))
        return found

    def _resolve(self, asset_id: str) -> tuple[PackageFile, str]:
        """Return the package and GUID an id names, from the first folder that
        contains the package."""
        relative, _, guid = self.parse_asset_id(asset_id).rpartition(ID_SEPARATOR)
        roots = self.roots()
        for root in roots:
            candidate = root / relative
            if not os.path.lexists(candidate):
                continue
            resolved = candidate.resolve()
            if not resolved.is_relative_to(root):
                raise ConfigurationError(
                    f"{LABEL}: '{relative}' leads outside the folder {root}, through a link. "
                    "Copy the package into the folder instead.",
                    platform=PLATFORM_ID,
                )
            if resolved.is_file():
                return PackageFile(root, relative, resolved, resolved.stat()), guid
        folders = ", ".join(str(root) for root in roots)
        raise NotFoundError(
            f"{LABEL}: the package '{relative}' is not in {folders}. Search again; it may "
            "have been moved or deleted.",
            platform=PLATFORM_ID,
        )


# ---------------------------------------------------------------- packages and models


_listing_lock = threading.Lock()
_listings: OrderedDict[tuple[str, int, int], PackageListing] = OrderedDict()
_warned_packages: set[tuple[str, int, int]] = set()


def _cached_listing(package: PackageFile) -> PackageListing:
    """Return the package's table of contents, read again only when its path, size
    or modification time changed. Errors from ``read_package`` propagate."""
    key = (str(package.path), package.stat.st_size, package.stat.st_mtime_ns)
    with _listing_lock:
        if key in _listings:
            _listings.move_to_end(key)
            return _listings[key]
    listing = read_package(package.path)
    with _listing_lock:
        _listings[key] = listing
        while len(_listings) > MAX_CACHED_LISTINGS:
            _listings.popitem(last=False)
    return listing


def _listing_for_search(package: PackageFile) -> PackageListing | None:
    """Return the package's listing, or None after logging why it cannot be read. The
    warning is logged once per package version; repeats go to DEBUG."""
    try:
        return _cached_listing(package)
    except (MeshportError, OSError) as error:
        key = (str(package.path), package.stat.st_size, package.stat.st_mtime_ns)
        with _listing_lock:
            first = key not in _warned_packages
            _warned_packages.add(key)
        level = logging.WARNING if first else logging.DEBUG
        log.log(level, "platform=%s package=%s skipped: %s", PLATFORM_ID, package.path, error)
        return None


def _find_model(listing: PackageListing, guid: str, package: PackageFile) -> PackageAsset:
    for candidate in listing.assets:
        if candidate.guid == guid:
            if candidate.suffix not in MODEL_SUFFIXES:
                raise UnsupportedFileError(
                    f"{LABEL}: asset {guid} of '{package.relative}' is '{candidate.pathname}', "
                    "not an FBX, OBJ, GLB or glTF model. Choose a model from the search results.",
                    platform=PLATFORM_ID,
                )
            return candidate
    raise NotFoundError(
        f"{LABEL}: the package '{package.relative}' contains no asset {guid}. Search again; "
        "the package may have been replaced by another version.",
        platform=PLATFORM_ID,
    )


def _asset(package: PackageFile, model: PackageAsset) -> Asset:
    publisher = _publisher(package.root / package.relative)
    return Asset(
        platform=PLATFORM_ID,
        asset_id=f"{package.relative}{ID_SEPARATOR}{model.guid}",
        name=Path(model.name).stem,
        author=publisher or "",
        license=STORE_LICENSE if publisher is not None else OTHER_LICENSE,
        url=package.path.as_uri(),
        download_size=model.size,
        version=package.version,
        formats=(MODEL_SUFFIXES[model.suffix],),
    )


def _publisher(path: Path) -> str | None:
    """Return the publisher folder of a package stored as Unity stores Asset Store
    downloads (``Asset Store-5.x/<publisher>/<category>/<file>``), else None."""
    parts = path.parts
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] == ASSET_STORE_FOLDER:
            return parts[index + 1] if len(parts) - index == 4 else None
    return None


def _unity_folders() -> list[Path]:
    """Return Unity's download folders on this system; none on an unknown system."""
    try:
        folders = unity_download_folders(platform.system(), Path.home(), os.environ)
    except (ConfigurationError, RuntimeError) as error:
        # Path.home() raises RuntimeError when no home folder can be determined.
        log.info("platform=%s Unity's download folders unknown: %s", PLATFORM_ID, error)
        return []
    return [Path(folder) for folder in folders]


def _is_package_name(name: str) -> bool:
    return name.lower().endswith(PACKAGE_SUFFIX)


def _check_options(options: DownloadOptions, model: PackageAsset) -> None:
    if options.resolution:
        raise ConfigurationError(
            f"{LABEL}: '{model.name}' is a packaged file with one resolution, so resolution "
            f"'{options.resolution}' cannot be chosen. Leave the resolution out.",
            platform=PLATFORM_ID,
        )
    requested = (options.file_format or "").strip().lower()
    if requested and requested != MODEL_SUFFIXES[model.suffix]:
        raise ConfigurationError(
            f"{LABEL}: '{model.name}' cannot be extracted as '{options.file_format}'. Leave "
            "the format out to extract the model as it is.",
            platform=PLATFORM_ID,
        )


# ---------------------------------------------------------------- pages


def _page_request(query: SearchQuery) -> tuple[str, int, int]:
    return offset_page_request(
        query,
        max_count=MAX_COUNT,
        searched_by="Unity packages are searched by package and model name only",
        label=LABEL,
        platform_id=PLATFORM_ID,
    )
