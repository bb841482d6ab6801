"""Poly Haven: the model list, asset info and file downloads. No key; every asset is CC0.

Poly Haven's API has no text search, so the client fetches the whole model list
(``GET /assets?t=models``) once, keeps it on disk under ``settings.data_dir`` as long
as the response's Cache-Control max-age allows, and filters and pages it locally.
Poly Haven's terms require a User-Agent naming the software, which ``PlatformHttp``
sends, and "Powered by Poly Haven" near the results, which the panel shows from
``notice``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from ..core.config import DEFAULT_BASE_URLS
from ..core.download import DownloadBatch, DownloadRequest, FileCheck
from ..core.errors import (
    ConfigurationError,
    JobCancelledError,
    NetworkError,
    NotDownloadableError,
    NotFoundError,
    OfflineError,
    PlatformUnavailableError,
    ResponseFormatError,
    UnsafeArchiveError,
)
from ..core.http import PlatformHttp
from ..core.jobs import JobContext
from ..core.models import Asset, DownloadedAsset, DownloadOptions, SearchPage, SearchQuery
from ..core.redact import redact_url
from ..core.retry import RetryPolicy
from .base import PlatformClient

log = logging.getLogger(__name__)

PLATFORM_ID = "polyhaven"
LABEL = "Poly Haven"
NOTICE = "Powered by Poly Haven"
ASSET_PAGE = "https://polyhaven.com/a/"
LICENSE = "CC0"
LICENSE_URL = "https://creativecommons.org/publicdomain/zero/1.0/"
POLYHAVEN_HOSTS = ("polyhaven.com", "www.polyhaven.com")

DEFAULT_MAX_AGE = 12 * 3600  # seconds the model list stays fresh without a max-age
MODEL_TYPE = 2  # the "type" number /info gives models (0 is HDRIs, 1 textures)
MAX_COUNT = 100  # results per page at most
FILTER_NAMES = ("categories", "authors")
DOWNLOAD_FORMATS = ("gltf", "fbx")
CACHE_FORMAT = 1  # version of the model list cache file's layout

# Poly Haven ids look like "wooden_table_02". The id becomes a folder name, so only
# letters, digits, "_", "." and "-" are accepted, and never "..".
ASSET_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
ASSET_PAGE_PATTERN = re.compile(r"/a/(?P<id>[^/]+)/?")
RESOLUTION_PATTERN = re.compile(r"(\d+)k")
RESOLUTION_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")
# Characters Windows does not allow in file names; ":" would also open an NTFS stream.
WINDOWS_INVALID_CHARACTERS = frozenset('<>:"|?*')

Clock = Callable[[], float]


@dataclass(frozen=True)
class ModelList:
    """The ``/assets?t=models`` response: id -> entry, and when it stops being fresh."""

    assets: dict[str, dict]
    fetched_at: float
    max_age: float

    def is_fresh(self, now: float) -> bool:
        return self.fetched_at <= now < self.fetched_at + self.max_age


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


class PolyHavenClient(PlatformClient):
    """A client for Poly Haven's public API (``https://api.polyhaven.com``).

    ``clock`` (epoch seconds) dates the cached model list; ``sleep`` and
    ``retry_policy`` go to ``PlatformHttp``, so tests can run retries without waiting.
    """

    platform_id = PLATFORM_ID
    label = LABEL
    notice = NOTICE
    formats = DOWNLOAD_FORMATS

    def __init__(
        self,
        settings,
        *,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = time.time,
    ):
        super().__init__(settings)
        platform = self.platform_settings
        if not platform.base_url:
            platform = dataclasses.replace(platform, base_url=DEFAULT_BASE_URLS[PLATFORM_ID])
        _check_base_url(platform.base_url)
        self.http = PlatformHttp(
            platform,
            settings,
            label=LABEL,
            auth_scheme=None,
            retry_policy=retry_policy,
            sleep=sleep,
        )
        self._clock = clock
        self._cache = ModelListFile(settings.data_dir, self.http.base_url)
        self._model_list: ModelList | None = None
        self._list_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def search(self, query: SearchQuery, context: JobContext | None = None) -> SearchPage:
        """Return one page of models matching ``query``, most downloaded first.

        Every word of ``query.text`` must occur, ignoring case, in the model's name,
        tags, categories or id. Filters: ``categories`` (the model is in every one)
        and ``authors`` (the model credits any one). With ``query.page_token`` set, the
        token alone decides text, filters and page size. Raises
        ``ConfigurationError`` for an unknown filter or an invalid page token.
        """
        page = PageRequest.from_query(query)
        self._require_online()
        listing = self.model_list(context)
        matches = find_models(listing.assets, page.text, page.filters)
        end = page.offset + page.count
        results = [
            asset_from_entry(asset_id, entry) for asset_id, entry in matches[page.offset : end]
        ]
        next_page = page.token(end) if end < len(matches) else None
        return SearchPage(results, next_page)

    def model_list(self, context: JobContext | None = None) -> ModelList:
        """Return the model list: from memory or the cache file while fresh, else fetched.

        When a refetch fails for lack of a connection or a server error, an expired
        list is used and a warning logged.
        """
        with self._list_lock:
            now = self._clock()
            if self._model_list is None:
                self._model_list = self._cache.read()
            cached = self._model_list
            if cached is not None and cached.is_fresh(now):
                return cached
            try:
                fetched = self._fetch_model_list(context)
            except (NetworkError, PlatformUnavailableError) as error:
                if cached is None:
                    raise
                log.warning(
                    "platform=%s using the model list from %.0f s ago, because the refetch "
                    "failed: %s",
                    PLATFORM_ID,
                    now - cached.fetched_at,
                    error,
                )
                return cached
            self._model_list = fetched
            return fetched

    def get_asset(self, asset_id: str, context: JobContext | None = None) -> Asset:
        asset_id = self.parse_asset_id(asset_id)
        messages = {
            404: f"no asset has the id '{asset_id}' (HTTP 404). Check the id on polyhaven.com"
        }
        data = self.http.get_json(
            f"info/{quote(asset_id)}", error_messages=messages, should_cancel=_cancel_check(context)
        )
        if not isinstance(data, dict):
            raise _format_error(f"the /info response for '{asset_id}' is not a JSON object")
        asset_type = data.get("type")
        if isinstance(asset_type, int) and asset_type != MODEL_TYPE:
            raise NotDownloadableError(
                f"{LABEL}: '{asset_id}' is an HDRI or a texture, not a model, so Meshport "
                "cannot import it. Choose a model.",
                platform=PLATFORM_ID,
            )
        return asset_from_entry(asset_id, data)

    def parse_asset_id(self, text: str) -> str:
        """Return the asset id from a bare id or a page URL (``https://polyhaven.com/a/<id>``).

        Raises ``ConfigurationError`` for anything else.
        """
        value = (text or "").strip()
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc.lower() in POLYHAVEN_HOSTS:
            match = ASSET_PAGE_PATTERN.fullmatch(parts.path)
            value = unquote(match["id"]) if match else ""
        if ASSET_ID_PATTERN.fullmatch(value) and ".." not in value:
            return value
        raise ConfigurationError(
            f"{LABEL}: '{text[:120]}' is not an asset id or asset URL. Use an id like "
            "'wooden_table_02' or a link like https://polyhaven.com/a/wooden_table_02.",
            platform=PLATFORM_ID,
        )

    def download(
        self,
        asset: Asset,
        destination: Path,
        context: JobContext,
        options: DownloadOptions = DownloadOptions(),
    ) -> DownloadedAsset:
        """Download one format of the asset into ``destination/<id>/<resolution>/``.

        The default is glTF at the smallest resolution, and ``options.file_format``
        ("fbx") and ``options.resolution`` choose otherwise. Every include lands at its
        relative path beside the main file, and every file's size and md5 are checked.
        Files of the other format at that resolution stay. A file of the same name is
        replaced only after every new file has passed its checks. When this raises,
        nothing this call wrote remains.
        """
        asset_id = self.parse_asset_id(asset.asset_id)
        file_format = _requested_format(options)
        context.raise_if_cancelled()
        context.report_progress(None, f"{LABEL}: listing the files of '{asset.name}'")
        messages = {
            404: f"no asset has the id '{asset_id}' (HTTP 404). Check the id on polyhaven.com"
        }
        tree = self.http.get_json(
            f"files/{quote(asset_id)}",
            error_messages=messages,
            should_cancel=_cancel_check(context),
        )
        bundle = choose_bundle(tree, asset_id, file_format, options.resolution)

        workspace = Workspace(Path(destination) / asset_id, bundle)
        workspace.prepare()
        try:
            self._fetch(asset, bundle, workspace, context)
            context.raise_if_cancelled()
            workspace.install()
        except BaseException:
            workspace.discard()
            raise
        context.report_progress(1.0, f"{LABEL}: '{asset.name}' downloaded")
        model_path = workspace.final / bundle.main.path
        return DownloadedAsset(asset, model_path, workspace.final, file_format)

    def _fetch(self, asset: Asset, bundle: FileBundle, workspace: Workspace, context) -> None:
        items = [
            DownloadRequest(
                remote.url,
                workspace.staging / remote.path,
                FileCheck(remote.size, remote.md5, _file_kind(remote, bundle)),
                label=f"{asset.name}: {remote.path}",
            )
            for remote in bundle.files
        ]
        total = sum(remote.size or 0 for remote in bundle.files)
        context.report_progress(
            0.0,
            f"{LABEL}: downloading '{asset.name}' ({len(items)} files, {total / 2**20:.1f} MiB)",
        )
        batch = DownloadBatch(
            self.http, items, context, max_parallel=self.settings.max_parallel_downloads
        )
        outcomes = batch.run()
        errors = [(outcome.request, outcome.error) for outcome in outcomes if outcome.error]
        failures = [pair for pair in errors if not isinstance(pair[1], JobCancelledError)]
        if not errors:
            return
        request, error = (failures or errors)[0]
        if isinstance(error, NotFoundError):
            relative = request.destination.relative_to(workspace.staging).as_posix()
            raise NotFoundError(
                f"{LABEL}: the file '{relative}' of '{asset.name}' was not found on the server "
                "(HTTP 404), although the asset's file list names it. Try again later, or "
                "choose another resolution or format.",
                platform=PLATFORM_ID,
                status=error.status,
            ) from error
        raise error

    def _fetch_model_list(self, context: JobContext | None) -> ModelList:
        response = self.http.request(
            "GET", "assets", params={"t": "models"}, should_cancel=_cancel_check(context)
        )
        fetched_at = self._clock()
        try:
            data = response.json()
        except ValueError as error:
            raise _format_error(
                f"the model list from {redact_url(response.url)} is not JSON"
            ) from error
        if not isinstance(data, dict):
            raise _format_error("the model list is not a JSON object keyed by asset id")
        cache_control = response.headers.get("Cache-Control", "")
        listing = ModelList(valid_entries(data), fetched_at, max_age_of(cache_control))
        if "no-store" not in cache_control.lower():
            self._cache.write(listing)
        log.info("platform=%s model list fetched: %d models", PLATFORM_ID, len(listing.assets))
        return listing

    def _require_online(self) -> None:
        if not self.settings.online_access:
            raise OfflineError(
                f'{LABEL}: online access is off. Turn on "Allow Online Access" in '
                "Blender's System preferences to search and download.",
                platform=PLATFORM_ID,
            )


class ModelListFile:
    """The model list on disk: one JSON file per base URL under ``data_dir/polyhaven``."""

    def __init__(self, data_dir: Path, base_url: str):
        digest = hashlib.sha256(base_url.encode()).hexdigest()[:16]
        self.path = Path(data_dir) / PLATFORM_ID / f"models-{digest}.json"
        self.base_url = base_url

    def read(self) -> ModelList | None:
        """Return the stored list, or None when there is none or it cannot be used."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != CACHE_FORMAT or data.get("base_url") != self.base_url:
                return None
            return ModelList(
                valid_entries(data["assets"]), float(data["fetched_at"]), float(data["max_age"])
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning(
                "platform=%s ignoring the model list cache %s: %s", PLATFORM_ID, self.path, error
            )
            return None

    def write(self, listing: ModelList) -> None:
        """Replace the file in one rename, so a reader never sees half a list. A failed
        write is logged, and the list stays usable in memory."""
        payload = {
            "format": CACHE_FORMAT,
            "base_url": self.base_url,
            "fetched_at": listing.fetched_at,
            "max_age": listing.max_age,
            "assets": listing.assets,
        }
        temporary = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(payload, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            log.warning(
                "platform=%s cannot write the model list cache %s: %s",
                PLATFORM_ID,
                self.path,
                error,
            )


class Workspace:
    """The files of one download: a hidden staging folder beside the final
    ``<id>/<resolution>`` folder, moved into it once every file passed its checks.
    A replaced file is kept aside until the move has finished, so a failed move can
    put it back."""

    def __init__(self, asset_folder: Path, bundle: FileBundle):
        tag = f"{bundle.resolution}.{bundle.file_format}"
        self.asset_folder = asset_folder
        self.final = asset_folder / bundle.resolution
        self.staging = asset_folder / f".{tag}.incomplete"
        self.replaced = asset_folder / f".{tag}.replaced"
        self.paths = [remote.path for remote in bundle.files]
        self._created_folders = [
            folder for folder in (self.final, asset_folder) if not folder.exists()
        ]

    def prepare(self) -> None:
        self._remove_leftovers()
        self.staging.mkdir(parents=True)

    def install(self) -> None:
        moved: list[str] = []
        try:
            for relative in self.paths:
                target = self.final / relative
                if target.exists():
                    _move(target, self.replaced / relative)
                _move(self.staging / relative, target)
                moved.append(relative)
        except BaseException:
            for relative in moved:
                (self.final / relative).unlink(missing_ok=True)
            self._restore_replaced()
            raise
        shutil.rmtree(self.replaced, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)

    def discard(self) -> None:
        """Remove what this download wrote, and the folders it made once they are empty."""
        self._remove_leftovers()
        for folder in self._created_folders:
            if folder.is_dir():
                for inner in sorted(folder.rglob("*"), reverse=True):
                    if inner.is_dir():
                        _remove_if_empty(inner)
                _remove_if_empty(folder)

    def _remove_leftovers(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self._restore_replaced()

    def _restore_replaced(self) -> None:
        if not self.replaced.exists():
            return
        for backup in sorted(self.replaced.rglob("*")):
            target = self.final / backup.relative_to(self.replaced)
            if backup.is_file() and not target.exists():
                _move(backup, target)
        shutil.rmtree(self.replaced, ignore_errors=True)


class PageRequest:
    """The text, filters, page size and offset of one search page. ``token`` encodes
    the page at another offset, so the next request needs nothing else."""

    def __init__(self, text: str, filters: dict[str, tuple[str, ...]], count: int, offset: int):
        self.text = text
        self.filters = filters
        self.count = count
        self.offset = offset

    @classmethod
    def from_query(cls, query: SearchQuery) -> PageRequest:
        if query.page_token:
            return cls._decode(query.page_token)
        count = max(1, min(MAX_COUNT, query.count))
        return cls(query.text.strip(), normalise_filters(query.filters or {}), count, 0)

    def token(self, offset: int) -> str:
        payload = {
            "text": self.text,
            "filters": self.filters,
            "count": self.count,
            "offset": offset,
        }
        data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(data).decode("ascii")

    @classmethod
    def _decode(cls, token: str) -> PageRequest:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
            filters = normalise_filters(data["filters"])
            count, offset = data["count"], data["offset"]
            if not (isinstance(data["text"], str) and _whole(count) and _whole(offset)):
                raise ValueError("wrong field types")
            return cls(data["text"], filters, max(1, min(MAX_COUNT, count)), offset)
        except (ValueError, binascii.Error, UnicodeError, KeyError, TypeError, ConfigurationError):
            raise ConfigurationError(
                f"{LABEL}: the page token '{token[:40]}' is not one this client returned. "
                "Start the search again.",
                platform=PLATFORM_ID,
            ) from None


def normalise_filters(filters: dict) -> dict[str, tuple[str, ...]]:
    """Return the filters as lower-case value tuples; raises ``ConfigurationError`` for
    an unknown filter name or a value that is not text."""
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        raise ConfigurationError(
            f"{LABEL}: unknown search filter '{unknown[0]}'. Use one of: "
            f"{', '.join(FILTER_NAMES)}.",
            platform=PLATFORM_ID,
        )
    normalised = {}
    for name in FILTER_NAMES:
        value = filters.get(name)
        items = value.split(",") if isinstance(value, str) else value
        if items in (None, ""):
            continue
        if not isinstance(items, (list, tuple, set, frozenset)) or not all(
            isinstance(item, str) for item in items
        ):
            raise ConfigurationError(
                f"{LABEL}: '{value}' is not a valid value of the filter '{name}'. Use a "
                "comma-separated list of names.",
                platform=PLATFORM_ID,
            )
        cleaned = tuple(sorted({item.strip().lower() for item in items if item.strip()}))
        if cleaned:
            normalised[name] = cleaned
    return normalised


def find_models(assets: dict[str, dict], text: str, filters: dict[str, tuple[str, ...]]):
    """Return ``(id, entry)`` pairs that match, most downloaded first, then by id."""
    words = text.lower().split()
    categories = set(filters.get("categories", ()))
    authors = set(filters.get("authors", ()))
    matches = []
    for asset_id, entry in assets.items():
        entry_categories = _strings(entry.get("categories"))
        searched = " ".join(
            [asset_id, _text(entry.get("name")), *_strings(entry.get("tags")), *entry_categories]
        ).lower()
        if not all(word in searched for word in words):
            continue
        if not categories <= {name.lower() for name in entry_categories}:
            continue
        if authors and not authors & {name.lower() for name in _author_names(entry)}:
            continue
        matches.append((asset_id, entry))
    matches.sort(key=lambda pair: (-(_int(pair[1].get("download_count")) or 0), pair[0]))
    return matches


def valid_entries(data: dict) -> dict[str, dict]:
    """Return the entries of a model list that can be shown, logging how many were not."""
    valid = {
        asset_id: entry
        for asset_id, entry in data.items()
        if isinstance(entry, dict) and ASSET_ID_PATTERN.fullmatch(asset_id) and ".." not in asset_id
    }
    if len(valid) < len(data):
        log.warning(
            "platform=%s skipped %d model list entries that are not objects or have an unusable id",
            PLATFORM_ID,
            len(data) - len(valid),
        )
    return valid


def asset_from_entry(asset_id: str, entry) -> Asset:
    """Map an entry of ``/assets`` or an ``/info`` response to an ``Asset``. Every field
    but the id may be missing. Sizes are unknown until ``/files`` is read."""
    if not isinstance(entry, dict):
        raise _format_error(f"the entry of '{asset_id}' is not a JSON object")
    thumbnail = _text(entry.get("thumbnail_url"))
    return Asset(
        platform=PLATFORM_ID,
        asset_id=asset_id,
        name=_text(entry.get("name")) or asset_id,
        author=", ".join(_author_names(entry)),
        license=LICENSE,
        license_url=LICENSE_URL,
        url=ASSET_PAGE + quote(asset_id),
        # NOTE: "polycount" is read when present; the documented list fields omit it.
        face_count=_int(entry.get("polycount")),
        thumbnail_url=thumbnail if thumbnail.startswith(("https://", "http://")) else None,
        version=_text(entry.get("files_hash")) or None,
    )


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
        _int(entry.get("size")),
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
                _int(value.get("size")),
                _md5(value),
            )
        )
    seen: set[str] = set()
    for remote in files:
        if remote.path.lower() in seen:
            raise _format_error(f"{where} name '{remote.path}' twice")
        seen.add(remote.path.lower())
    return FileBundle(file_format, resolution, main, tuple(files[1:]))


def checked_include_path(path: str, asset_id: str) -> str:
    """Return an include's path in normal form, or raise ``UnsafeArchiveError`` when it
    could write outside the asset's folder or cannot be stored on Windows."""
    text = path.replace("\\", "/") if isinstance(path, str) else ""
    parts = [part for part in text.split("/") if part not in ("", ".")]
    problem = None
    if text.startswith("/") or DRIVE_PATTERN.match(text):
        problem = "is an absolute path"
    elif ".." in parts:
        problem = "climbs out of the asset folder with '..'"
    elif not parts:
        problem = "names no file"
    elif any(ord(char) < 32 or char in WINDOWS_INVALID_CHARACTERS for char in text):
        problem = "contains a character that file names cannot hold"
    if problem:
        raise UnsafeArchiveError(
            f"{LABEL}: the include '{path}' of '{asset_id}' {problem}, so nothing was "
            "downloaded. Report the asset to Poly Haven.",
            platform=PLATFORM_ID,
        )
    return "/".join(parts)


def max_age_of(cache_control: str) -> float:
    """Return the seconds a response stays fresh by its Cache-Control header: 0 for
    ``no-store`` or ``no-cache``, ``max-age`` when given, else 12 hours."""
    directives = [part.strip().lower() for part in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        value = value.strip().strip('"')
        if name.strip() == "max-age" and value.isdigit():
            return float(value)
    return float(DEFAULT_MAX_AGE)


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


def _check_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{LABEL}: the base URL '{redact_url(url)}' is not an http(s) URL. Set it like "
            f"{DEFAULT_BASE_URLS[PLATFORM_ID]}.",
            platform=PLATFORM_ID,
        )


def _file_url(entry: dict, where: str) -> str:
    url = _text(entry.get("url"))
    if not url.startswith(("https://", "http://")):
        raise _format_error(f"{where} has no valid 'url'")
    return url


def _md5(entry: dict) -> str | None:
    value = _text(entry.get("md5")).lower()
    return value if re.fullmatch(r"[0-9a-f]{32}", value) else None


def _author_names(entry: dict) -> list[str]:
    authors = entry.get("authors")
    if not isinstance(authors, dict):
        return []
    return [name.strip() for name in authors if isinstance(name, str) and name.strip()]


def _strings(value) -> list[str]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value >= 0 else None


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _cancel_check(context: JobContext | None) -> Callable[[], bool] | None:
    if context is None:
        return None
    return lambda: context.cancelled


def _format_error(problem: str) -> ResponseFormatError:
    return ResponseFormatError(
        f"{LABEL}: {problem}. The API may have changed; update Meshport or report it.",
        platform=PLATFORM_ID,
    )
