"""``PolyHavenClient``: search over the cached model list, one asset's record and the
download of its files."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from ...core.config import DEFAULT_BASE_URLS
from ...core.download import DownloadBatch, DownloadRequest, FileCheck
from ...core.errors import (
    ConfigurationError,
    JobCancelledError,
    NetworkError,
    NotDownloadableError,
    NotFoundError,
    OfflineError,
    PlatformUnavailableError,
)
from ...core.http import PlatformHttp
from ...core.jobs import JobContext
from ...core.models import (
    Asset,
    DownloadedAsset,
    DownloadOptions,
    SearchPage,
    SearchQuery,
)
from ...core.redact import redact_url
from ...core.retry import RetryPolicy
from ..base import PlatformClient
from ..common import cancel_check, check_http_url
from .constants import (
    ASSET_ID_PATTERN,
    ASSET_PAGE_PATTERN,
    DOWNLOAD_FORMATS,
    LABEL,
    MODEL_TYPE,
    NOTICE,
    PLATFORM_ID,
    POLYHAVEN_HOSTS,
)
from .files import (
    FileBundle,
    _file_kind,
    _requested_format,
    check_gltf_includes,
    choose_bundle,
)
from .listing import (
    ModelList,
    PageRequest,
    _format_error,
    asset_from_entry,
    find_models,
    max_age_of,
    valid_entries,
)
from .storage import ModelListFile, Workspace

log = logging.getLogger(__name__)


Clock = Callable[[], float]


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
            f"info/{quote(asset_id)}", error_messages=messages, should_cancel=cancel_check(context)
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
        A .gltf that names a file its include list lacks raises ``DownloadError``.
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
            should_cancel=cancel_check(context),
        )
        bundle = choose_bundle(tree, asset_id, file_format, options.resolution)

        workspace = Workspace(Path(destination) / asset_id, bundle)
        workspace.prepare()
        try:
            self._fetch(asset, bundle, workspace, context)
            context.raise_if_cancelled()
            if bundle.file_format == "gltf":
                check_gltf_includes(bundle, workspace.staging / bundle.main.path, asset.name)
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
            "GET", "assets", params={"t": "models"}, should_cancel=cancel_check(context)
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


def _check_base_url(url: str) -> None:
    check_http_url(url, "base URL", DEFAULT_BASE_URLS[PLATFORM_ID], LABEL, PLATFORM_ID)
