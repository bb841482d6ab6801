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
    DownloadError,
    MeshportError,
    RateLimitedError,
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
    parse_search_page,
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
        return parse_search_page(data)

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
        ``options.file_format`` forces ``"glb"`` or ``"gltf"``. An earlier folder of
        the same model is replaced only after the new one is complete, and nothing
        partial remains when this raises.
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
        # Storage links expire after a few minutes, so after a 400 or 403 from the storage
        # host the client requests one fresh link from /download before failing.
        offer = self._request_offer(asset, uid, requested, context)
        try:
            self._fetch_archive(asset, offer, workspace, context)
            return offer
        except MeshportError as error:
            if not _storage_rejected_link(error):
                raise
            log.info(
                "platform=%s uid=%s storage rejected the link status=%s; requesting a new one",
                PLATFORM_ID,
                uid,
                error.status,
            )

        offer = self._request_offer(asset, uid, requested, context)
        try:
            self._fetch_archive(asset, offer, workspace, context)
        except MeshportError as error:
            if not _storage_rejected_link(error):
                raise
            raise DownloadError(
                f"{LABEL}: the storage host rejected the download link for '{asset.name}' "
                f"twice (HTTP {error.status}). Try again later.",
                platform=PLATFORM_ID,
                status=error.status,
            ) from error
        return offer

    def _fetch_archive(
        self, asset: Asset, offer: ArchiveOffer, workspace: _Workspace, context
    ) -> None:
        download_file(
            self.http,
            offer.url,
            workspace.archive_path(offer.file_format),
            context,
            check=FileCheck(size=offer.size, kind="glb" if offer.file_format == "glb" else "zip"),
            authenticated=False,
            label=f"{asset.name} ({offer.file_format.upper()})",
        )

    def _request_offer(
        self, asset: Asset, uid: str, requested: str | None, context
    ) -> ArchiveOffer:
        context.raise_if_cancelled()
        context.report_progress(None, f"{LABEL}: requesting the download of '{asset.name}'")
        messages = _download_error_messages(asset.name, uid)
        response = self.http.get_json(
            f"models/{uid}/download",
            error_messages=messages,
            should_cancel=cancel_check(context),
        )
        return choose_archive(response, requested, asset.name)

    def _unpack(self, asset: Asset, offer: ArchiveOffer, workspace: _Workspace, context) -> Path:
        if offer.file_format == "glb":
            return workspace.archive_path("glb")

        context.raise_if_cancelled()
        context.report_progress(None, f"{LABEL}: extracting '{asset.name}'")
        archive = workspace.archive_path("gltf")
        extract_zip(archive, workspace.staging)
        archive.unlink()
        return find_model_file(workspace.staging, preferred=("gltf", "glb", "fbx", "obj"))

    def _checked_page_url(self, url: str) -> str:
        base = urlsplit(self.http.base_url)
        target = urlsplit(url)
        same_origin = (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower())
        if not same_origin:
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


def _storage_rejected_link(error: MeshportError) -> bool:
    return error.status in (400, 403) and not isinstance(error, RateLimitedError)


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
