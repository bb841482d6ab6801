"""The local library: a folder of model files, searched by name. No network, no key.

The folder comes from ``settings.local_dir`` (``MESHPORT_LOCAL_DIR`` or the add-on
preference, see ``core.config.resolve_local_dir``). An asset id is the file's path
relative to that folder, with ``/`` as separator.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from pathlib import Path

from ..core.archives import extract_zip, find_model_file
from ..core.errors import ConfigurationError, NotFoundError
from ..core.formats import MODEL_SUFFIXES
from ..core.jobs import JobContext
from ..core.models import (
    Asset,
    DownloadedAsset,
    DownloadOptions,
    SearchPage,
    SearchQuery,
)
from .base import PlatformClient
from .common import offset_page_request, offset_page_token

log = logging.getLogger(__name__)

PLATFORM_ID = "local"
LABEL = "Local library"
LOCAL_DIR_VARIABLE = "MESHPORT_LOCAL_DIR"
PREFERENCE = "Local Library Folder"
ARCHIVE_SUFFIX = ".zip"
SEARCHED_SUFFIXES = (*MODEL_SUFFIXES, ARCHIVE_SUFFIX)
MAX_COUNT = 100
MODEL_PREFERENCE = ("glb", "gltf", "fbx", "obj")
DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")


class LocalLibraryClient(PlatformClient):
    """Searches and opens GLB, glTF, FBX, OBJ and zip files under the library folder.

    It works with online access off, because it sends no request.
    """

    platform_id = PLATFORM_ID
    label = LABEL
    formats = tuple(MODEL_SUFFIXES.values())

    def search(self, query: SearchQuery, context: JobContext | None = None) -> SearchPage:
        """Return one page of files whose relative path contains every word of
        ``query.text``, ignoring case, sorted by path. Hidden files and folders (names
        starting with ".") are skipped. Raises ``ConfigurationError`` for a missing
        folder, any filter (this platform has none) or an invalid page token.
        """
        text, count, offset = _page_request(query)
        root = self.root()
        words = text.lower().split()
        matches = []
        for path in _library_files(root, context):
            relative = path.relative_to(root).as_posix()
            if all(word in relative.lower() for word in words):
                matches.append(path)
        matches.sort(key=lambda path: path.relative_to(root).as_posix().lower())

        end = offset + count
        results = [self._asset(root, path) for path in matches[offset:end]]
        next_page = offset_page_token(text, count, end) if end < len(matches) else None
        return SearchPage(results, next_page)

    def get_asset(self, asset_id: str, context: JobContext | None = None) -> Asset:
        root = self.root()
        return self._asset(root, self._resolve(root, asset_id))

    def parse_asset_id(self, text: str) -> str:
        """Return the id in normal form: a relative path with ``/`` separators.

        Raises ``ConfigurationError`` for an absolute path or one that leaves the
        library folder with ``..``.
        """
        value = (text or "").strip().replace("\\", "/")
        parts = [part for part in value.split("/") if part not in ("", ".")]
        if value.startswith("/") or DRIVE_PATTERN.match(value) or ".." in parts or not parts:
            raise ConfigurationError(
                f"{LABEL}: '{text}' is not a file inside the library folder. Use the path "
                "relative to the folder, as search results give it.",
                platform=PLATFORM_ID,
            )
        return "/".join(parts)

    def download(
        self,
        asset: Asset,
        destination: Path,
        context: JobContext,
        options: DownloadOptions = DownloadOptions(),
    ) -> DownloadedAsset:
        """Return the model file where it is; a zip is extracted into
        ``destination/<name>-<hash>/`` first, replacing an earlier extraction. The
        folder the model's references must stay in is the library for a loose file
        and the extraction for a zip.

        ``options.file_format`` must match the file (for a zip, it picks the model
        inside); ``options.resolution`` raises ``ConfigurationError``, because a local
        file has only one.
        """
        root = self.root()
        path = self._resolve(root, asset.asset_id)
        requested = _requested_format(options, path)
        context.raise_if_cancelled()
        if path.suffix.lower() != ARCHIVE_SUFFIX:
            file_format = MODEL_SUFFIXES[path.suffix.lower()]
            return DownloadedAsset(asset, path, root, file_format)

        folder = self._extract(asset, path, Path(destination), context)
        model = _find_model(folder, requested)
        return DownloadedAsset(asset, model, folder, MODEL_SUFFIXES[model.suffix.lower()])

    def root(self) -> Path:
        """Return the library folder, or raise ``ConfigurationError`` saying how to set it."""
        folder = self.settings.local_dir
        if folder is None or not str(folder).strip():
            raise ConfigurationError(
                f"{LABEL}: no folder is set. Set {LOCAL_DIR_VARIABLE} or the "
                f"'{PREFERENCE}' preference to a folder of GLB, glTF, FBX or OBJ files.",
                platform=PLATFORM_ID,
            )
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise ConfigurationError(
                f"{LABEL}: the folder '{folder}' does not exist or is not a folder. Set "
                f"{LOCAL_DIR_VARIABLE} or the '{PREFERENCE}' preference to an existing folder.",
                platform=PLATFORM_ID,
            )
        return folder.resolve()

    def _resolve(self, root: Path, asset_id: str) -> Path:
        """Return the file an id names; raises ``ConfigurationError`` when it resolves
        outside the folder (through a link as well) and ``NotFoundError`` when gone."""
        relative = self.parse_asset_id(asset_id)
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise ConfigurationError(
                f"{LABEL}: '{asset_id}' leads outside the library folder {root}, through a "
                "link. Copy the file into the folder instead.",
                platform=PLATFORM_ID,
            )
        if not path.is_file() or path.suffix.lower() not in SEARCHED_SUFFIXES:
            raise NotFoundError(
                f"{LABEL}: '{relative}' is not a GLB, glTF, FBX, OBJ or zip file in {root}. "
                "Search again; it may have been moved or deleted.",
                platform=PLATFORM_ID,
            )
        return path

    def _asset(self, root: Path, path: Path) -> Asset:
        stat = path.stat()
        suffix = path.suffix.lower()
        return Asset(
            platform=PLATFORM_ID,
            asset_id=path.relative_to(root).as_posix(),
            name=path.stem,
            url=path.as_uri(),
            download_size=stat.st_size,
            version=f"{stat.st_size}-{stat.st_mtime_ns}",
            formats=(MODEL_SUFFIXES[suffix],) if suffix in MODEL_SUFFIXES else (),
        )

    def _extract(self, asset: Asset, archive: Path, destination: Path, context) -> Path:
        """Extract ``archive`` into a folder named after it and its version, and return
        that folder. An earlier extraction there is replaced."""
        digest = hashlib.sha256(f"{asset.asset_id}\0{asset.version}".encode()).hexdigest()[:12]
        target = destination / f"{archive.stem}-{digest}"
        context.report_progress(None, f"{LABEL}: extracting '{archive.name}'")
        shutil.rmtree(target, ignore_errors=True)
        extract_zip(archive, target)
        log.info("platform=%s extracted %s to %s", PLATFORM_ID, archive, target)
        return target


def _find_model(folder: Path, requested: str | None) -> Path:
    """Return the model file in an extracted folder; the folder is removed when there
    is none to import."""
    try:
        return find_model_file(folder, preferred=(requested,) if requested else MODEL_PREFERENCE)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _library_files(root: Path, context: JobContext | None):
    """Yield the searchable files under ``root``, skipping hidden names and files that
    a link leads outside ``root``. Links to folders are not followed."""
    for folder, folders, files in os.walk(root, onerror=_log_walk_error):
        if context is not None:
            context.raise_if_cancelled()
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            if name.startswith(".") or Path(name).suffix.lower() not in SEARCHED_SUFFIXES:
                continue
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                continue
            if path.is_file():
                yield path


def _log_walk_error(error: OSError) -> None:
    log.warning("platform=%s cannot read %s: %s", PLATFORM_ID, error.filename, error.strerror)


def _requested_format(options: DownloadOptions, path: Path) -> str | None:
    if options.resolution:
        raise ConfigurationError(
            f"{LABEL}: '{path.name}' is a local file with one resolution, so "
            f"resolution '{options.resolution}' cannot be chosen. Leave the resolution out.",
            platform=PLATFORM_ID,
        )
    requested = (options.file_format or "").strip().lower()
    if not requested:
        return None
    actual = MODEL_SUFFIXES.get(path.suffix.lower())
    if requested not in MODEL_PREFERENCE or (actual is not None and requested != actual):
        raise ConfigurationError(
            f"{LABEL}: '{path.name}' cannot be opened as '{options.file_format}'. Leave the "
            "format out to open the file as it is.",
            platform=PLATFORM_ID,
        )
    return requested


def _page_request(query: SearchQuery) -> tuple[str, int, int]:
    return offset_page_request(
        query,
        max_count=MAX_COUNT,
        searched_by="the local library is searched by file name only",
        label=LABEL,
        platform_id=PLATFORM_ID,
    )
