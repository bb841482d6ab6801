"""``SketchfabClient``: search, model details, the key check and downloads through
pre-signed storage URLs."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from ...core.archives import extract_zip, find_model_file
from ...core.config import DEFAULT_BASE_URLS, key_place
from ...core.download import FileCheck, download_file
from ...core.errors import (
    AuthenticationError,
    ConfigurationError,
    MeshportError,
    ResponseFormatError,
)
from ...core.formats import MODEL_SUFFIXES
from ...core.http import PlatformHttp
from ...core.jobs import JobContext
from ...core.models import (
    AccountInfo,
    Asset,
    DownloadedAsset,
    DownloadOptions,
    SearchPage,
    SearchQuery,
)
from ...core.redact import redact_url
from ...core.retry import RetryPolicy
from ..base import PlatformClient
from ..common import (
    cancel_check,
    check_http_url,
    install_folder,
    text_of,
)
from .constants import (
    DOWNLOAD_FORMATS,
    LABEL,
    MODEL_PATH_PATTERN,
    PLATFORM_ID,
    SKETCHFAB_HOSTS,
    TOKEN_PAGE,
    UID_PATTERN,
)
from .params import build_search_params
from .responses import (
    ArchiveOffer,
    _format_error,
    _required_text,
    asset_from_model,
    choose_archive,
    other_archive,
    parse_search_page,
)
from .storage import (
    MISSING_STATUSES,
    ArchiveMissing,
    StorageLink,
    both_missing_error,
    missing_archive_error,
    storage_error,
)

log = logging.getLogger(__name__)


class SketchfabClient(PlatformClient):
    """A client for the Sketchfab Data API v3, authenticated with ``Token <key>``."""

    platform_id = PLATFORM_ID
    label = LABEL
    needs_key = True
    formats = DOWNLOAD_FORMATS

    def __init__(
        self,
        settings,
        *,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
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
            auth_scheme="Token",
            retry_policy=retry_policy,
            sleep=sleep,
        )

    def close(self) -> None:
        self.http.close()

    def search(self, query: SearchQuery, context: JobContext | None = None) -> SearchPage:
        """Return one page of downloadable models.

        With ``query.page_token`` set, GET that URL (the server's ``next`` link) as it
        is and ignore the other fields. Raises ``ConfigurationError`` for an unknown
        filter or value.
        """
        cancel = cancel_check(context)
        if query.page_token:
            url = self._checked_page_url(query.page_token)
            data = self.http.get_json(url, should_cancel=cancel)
        else:
            params = build_search_params(query)
            data = self.http.get_json("search", params=params, should_cancel=cancel)
        return self._without_foreign_next_page(parse_search_page(data))

    def get_asset(self, asset_id: str, context: JobContext | None = None) -> Asset:
        uid = self.parse_asset_id(asset_id)
        messages = {404: f"model {uid} was not found (HTTP 404): it was deleted or made private"}
        data = self.http.get_json(
            f"models/{uid}", error_messages=messages, should_cancel=cancel_check(context)
        )
        return asset_from_model(data)

    def validate_key(self, context: JobContext | None = None) -> AccountInfo:
        """GET ``/me`` with the configured key and return the account it belongs to.

        Raises ``AuthenticationError`` for a missing or rejected key, ``NetworkError``
        when the server cannot be reached and ``RateLimitedError`` when throttled.
        """
        self._require_key("there is no key to check")
        messages = {
            401: f"the API token is invalid (HTTP 401). Copy a new one from {TOKEN_PAGE} "
            f"and put it in {key_place(PLATFORM_ID)}",
        }
        data = self.http.get_json(
            "me", error_messages=messages, should_cancel=cancel_check(context)
        )
        if not isinstance(data, dict):
            raise _format_error("the /me response is not a JSON object")
        username = _required_text(data, "username", "/me")
        return AccountInfo(PLATFORM_ID, username, text_of(data.get("account")) or None)

    def parse_asset_id(self, text: str) -> str:
        """Return the model uid from a bare 32-hex uid or a model page URL, such as
        ``https://sketchfab.com/3d-models/<slug>-<uid>``.

        The URL must be on sketchfab.com or on the host of the configured base URL
        (a local server). Raises ``ConfigurationError`` for anything else.
        """
        value = (text or "").strip()
        if UID_PATTERN.fullmatch(value):
            return value.lower()

        parts = urlsplit(value)
        host = (parts.netloc or "").lower()
        allowed_hosts = SKETCHFAB_HOSTS + (urlsplit(self.http.base_url).netloc.lower(),)
        match = MODEL_PATH_PATTERN.fullmatch(parts.path or "")
        if parts.scheme in ("http", "https") and host in allowed_hosts and match:
            return match.group("uid").lower()

        raise ConfigurationError(
            f"{LABEL}: '{value[:120]}' is not a model uid or model URL. Paste the 32-character "
            "uid or a link like https://sketchfab.com/3d-models/<name>-<uid>.",
            platform=PLATFORM_ID,
        )

    def download(
        self,
        asset: Asset,
        destination: Path,
        context: JobContext,
        options: DownloadOptions = DownloadOptions(),
    ) -> DownloadedAsset:
        """Download the model into ``destination/<uid>/`` and return the file to import.

        Prefers the GLB archive when offered, else the glTF zip, unless
        ``options.file_format`` forces ``"glb"`` or ``"gltf"``. Without a forced
        format, an archive the storage host does not have (HTTP 404 or 410) is
        replaced by the other one. An earlier folder of the same model is replaced
        only after the new one is complete, and nothing partial remains when this
        raises.
        """
        uid = self.parse_asset_id(asset.asset_id)
        requested = _requested_format(options)
        self._require_key("downloads need a signed-in user")
        workspace = _Workspace(Path(destination), uid)
        workspace.remove_leftovers()
        try:
            offer = self._transfer(asset, uid, requested, workspace, context)
            model = self._unpack(asset, offer, workspace, context)
            model_path = workspace.install(model)
        except BaseException:
            workspace.remove_leftovers()
            raise
        context.report_progress(1.0, f"{LABEL}: '{asset.name}' downloaded")
        file_format = MODEL_SUFFIXES.get(model_path.suffix.lower(), offer.file_format)
        return DownloadedAsset(asset, model_path, workspace.final, file_format)

    def _transfer(
        self, asset: Asset, uid: str, requested: str | None, workspace: _Workspace, context
    ) -> ArchiveOffer:
        """Fetch the chosen archive and return its offer. When the storage host has no
        object behind the link (HTTP 404 or 410) and the format was not forced, the
        other offered archive is tried once."""
        response = self._request_download(asset, uid, context)
        offer = choose_archive(response, requested, asset.name)
        try:
            self._fetch_archive(asset, uid, offer, workspace, context)
            return offer
        except ArchiveMissing as missing:
            first_missing = missing

        alternative = other_archive(response, offer.file_format, asset.name)
        if requested or alternative is None:
            other_format = alternative.file_format if alternative else None
            raise missing_archive_error(
                asset.name, uid, first_missing, other_format
            ) from first_missing.error
        log.warning(
            "platform=%s uid=%s the %s archive is missing on %s (HTTP %s); trying the %s archive",
            PLATFORM_ID,
            uid,
            offer.file_format,
            first_missing.host,
            first_missing.error.status,
            alternative.file_format,
        )
        # The first transfer may have left the staging folder, which extraction creates.
        workspace.remove_leftovers()
        try:
            self._fetch_archive(asset, uid, alternative, workspace, context)
        except ArchiveMissing as missing:
            raise both_missing_error(asset.name, uid, first_missing, missing) from missing.error
        return alternative

    def _fetch_archive(
        self, asset: Asset, uid: str, offer: ArchiveOffer, workspace: _Workspace, context
    ) -> None:
        """Download one archive from its storage link. Raises ``ArchiveMissing`` for
        HTTP 404 and 410 from the storage host, and words its other HTTP errors."""
        # Storage links expire after a few minutes, so after a 400 or 403 from the
        # storage host core.download calls ``renew`` once for a fresh link.
        link = StorageLink(
            offer.url,
            offer.file_format,
            asset.name,
            lambda: self._request_download(asset, uid, context),
        )
        kind = "glb" if offer.file_format == "glb" else "zip"
        try:
            download_file(
                self.http,
                offer.url,
                workspace.archive_path(offer.file_format),
                context,
                check=FileCheck(size=offer.size, kind=kind),
                authenticated=False,
                label=f"{asset.name} ({offer.file_format.upper()})",
                renew_url=link.renew,
            )
        except MeshportError as error:
            if not link.is_storage_error(error):
                raise
            if error.status in MISSING_STATUSES:
                raise ArchiveMissing(error, link.host, offer.file_format) from error
            raise storage_error(asset.name, uid, offer.file_format, link.host, error) from error

    def _request_download(self, asset: Asset, uid: str, context) -> dict:
        """GET ``/models/{uid}/download`` and return its archive offers."""
        context.raise_if_cancelled()
        context.report_progress(None, f"{LABEL}: requesting the download of '{asset.name}'")
        messages = _download_error_messages(asset.name, uid)
        return self.http.get_json(
            f"models/{uid}/download",
            error_messages=messages,
            should_cancel=cancel_check(context),
        )

    def _unpack(self, asset: Asset, offer: ArchiveOffer, workspace: _Workspace, context) -> Path:
        if offer.file_format == "glb":
            return workspace.archive_path("glb")

        context.raise_if_cancelled()
        context.report_progress(None, f"{LABEL}: extracting '{asset.name}'")
        archive = workspace.archive_path("gltf")
        extract_zip(archive, workspace.staging)
        archive.unlink()
        return find_model_file(workspace.staging, preferred=("gltf", "glb", "fbx", "obj"))

    def _without_foreign_next_page(self, page: SearchPage) -> SearchPage:
        """Drop a ``next`` link that is not on the API's origin, because ``search``
        never follows a page token to another host."""
        if page.next_page is None or self._on_api_origin(page.next_page):
            return page
        log.warning(
            "platform=%s dropped the next-page link %s because it is not on %s",
            PLATFORM_ID,
            redact_url(page.next_page),
            urlsplit(self.http.base_url).netloc,
        )
        notice = (
            f"{LABEL} linked the next page to another host, so more results could not be "
            "fetched safely. Narrow the search to see other models."
        )
        return dataclasses.replace(page, next_page=None, notice=notice)

    def _on_api_origin(self, url: str) -> bool:
        base = urlsplit(self.http.base_url)
        target = urlsplit(url)
        return (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower())

    def _checked_page_url(self, url: str) -> str:
        base = urlsplit(self.http.base_url)
        if not self._on_api_origin(url):
            raise ResponseFormatError(
                f"{LABEL}: the next-page link {redact_url(url)} is not on {base.netloc}, so it "
                "was not followed. Start the search again.",
                platform=PLATFORM_ID,
            )
        return url

    def _require_key(self, reason: str) -> None:
        # Offline, the request raises OfflineError, whose message is the more useful one.
        if self.http.has_key or not self.settings.online_access:
            return
        raise AuthenticationError(
            f"{LABEL}: no API token is set, and {reason}. Copy the token from {TOKEN_PAGE} "
            f"and put it in {key_place(PLATFORM_ID)}.",
            platform=PLATFORM_ID,
        )


class _Workspace:
    """The files of one download: hidden working names beside ``destination/<uid>``
    until ``install`` renames the finished folder into place."""

    def __init__(self, destination: Path, uid: str):
        self.final = destination / uid
        self.staging = destination / f".{uid}.incomplete"
        self._zip = destination / f".{uid}.zip"
        self._replaced = destination / f".{uid}.replaced"

    def archive_path(self, file_format: str) -> Path:
        if file_format == "glb":
            return self.staging / "scene.glb"
        return self._zip

    def install(self, model: Path) -> Path:
        """Move the staging folder to ``final`` and return ``model``'s new path."""
        return install_folder(self.staging, self.final, self._replaced, model)

    def remove_leftovers(self) -> None:
        for folder in (self.staging, self.staging.with_name(self.staging.name + ".extracting")):
            shutil.rmtree(folder, ignore_errors=True)
        for path in (self._zip, self._zip.with_name(self._zip.name + ".part")):
            path.unlink(missing_ok=True)
        if self._replaced.exists() and not self.final.exists():
            self._replaced.rename(self.final)
        shutil.rmtree(self._replaced, ignore_errors=True)


def _download_error_messages(name: str, uid: str) -> dict[int, str]:
    model = f"'{name}' ({uid})"
    return {
        400: f"{model} is not downloadable (HTTP 400): its author has not allowed downloads",
        401: f"the API token is invalid or missing (HTTP 401), and downloads need a signed-in "
        f"user. Copy the token from {TOKEN_PAGE} into {key_place(PLATFORM_ID)}",
        403: f"no permission to download {model} (HTTP 403): it is a store model that needs "
        "a purchase, or its licence does not allow downloads for this account",
        404: f"{model} was not found (HTTP 404): it was deleted or made private",
    }


def _requested_format(options: DownloadOptions) -> str | None:
    value = (options.file_format or "").strip().lower()
    if not value:
        return None
    if value not in DOWNLOAD_FORMATS:
        raise ConfigurationError(
            f"{LABEL}: '{options.file_format}' is not a download format of Sketchfab. Use "
            f"one of: {', '.join(DOWNLOAD_FORMATS)}.",
            platform=PLATFORM_ID,
        )
    return value


def _check_base_url(url: str) -> None:
    check_http_url(url, "base URL", DEFAULT_BASE_URLS[PLATFORM_ID], LABEL, PLATFORM_ID)
