"""Sketchfab Data API v3: search, model detail, key check and downloads.

Search works without a key, but downloads need a signed-in user. A download requests
short-lived pre-signed storage URLs from ``/models/{uid}/download`` and fetches the
archive from there without the Authorization header.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..core.archives import extract_zip, find_model_file
from ..core.config import DEFAULT_BASE_URLS
from ..core.download import FileCheck, download_file
from ..core.errors import (
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    MeshportError,
    NotDownloadableError,
    RateLimitedError,
    ResponseFormatError,
)
from ..core.formats import MODEL_SUFFIXES
from ..core.http import PlatformHttp
from ..core.jobs import JobContext
from ..core.models import (
    AccountInfo,
    Asset,
    DownloadedAsset,
    DownloadOptions,
    SearchPage,
    SearchQuery,
)
from ..core.redact import redact_url
from ..core.retry import RetryPolicy
from .base import PlatformClient

log = logging.getLogger(__name__)

PLATFORM_ID = "sketchfab"
LABEL = "Sketchfab"
TOKEN_PAGE = "https://sketchfab.com/settings/password"

MAX_COUNT = 24
UID_PATTERN = re.compile(r"[0-9a-fA-F]{32}")
MODEL_PATH_PATTERN = re.compile(
    r"/(?:3d-models|models)/(?:[^/]*-)?(?P<uid>[0-9a-fA-F]{32})(?:/embed)?/?"
)
SKETCHFAB_HOSTS = ("sketchfab.com", "www.sketchfab.com")

# Category slugs as GET /v3/categories listed them in 2024. NOTE: a category that
# Sketchfab adds later is rejected until it is added here.
CATEGORY_SLUGS = (
    "animals-pets", "architecture", "art-abstract", "cars-vehicles",
    "characters-creatures", "cultural-heritage-history", "electronics-gadgets",
    "fashion-style", "food-drink", "furniture-home", "music", "nature-plants",
    "news-politics", "people", "places-travel", "science-technology",
    "sports-fitness", "weapons-military",
)  # fmt: skip

LICENSE_LABELS = {
    "by": "CC Attribution",
    "by-sa": "CC Attribution-ShareAlike",
    "by-nd": "CC Attribution-NoDerivs",
    "by-nc": "CC Attribution-NonCommercial",
    "by-nc-sa": "CC Attribution-NonCommercial-ShareAlike",
    "by-nc-nd": "CC Attribution-NonCommercial-NoDerivs",
    "cc0": "CC0 Public Domain",
    "free-st": "Free Standard",
    "st": "Standard",
    "ed": "Editorial",
}

# "true" and "false" select any PBR workflow or none; the others select one workflow.
PBR_TYPES = ("metalness", "specular", "true", "false")
SORT_FIELDS = ("likeCount", "viewCount", "publishedAt")
SORT_VALUES = SORT_FIELDS + tuple(f"-{name}" for name in SORT_FIELDS)
BOOLEAN_FILTERS = ("animated", "staffpicked", "rigged")
FACE_COUNT_FILTERS = ("min_face_count", "max_face_count")
FILTER_NAMES = (
    ("categories", "licenses", "pbr_type", "sort_by") + BOOLEAN_FILTERS + FACE_COUNT_FILTERS
)

DOWNLOAD_FORMATS = ("glb", "gltf")


@dataclass(frozen=True)
class ArchiveOffer:
    """One archive from a ``/download`` response. The URL is pre-signed and short-lived,
    so it is never stored or logged unredacted."""

    file_format: str
    url: str
    size: int | None


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
        cancel = _cancel_check(context)
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
            f"models/{uid}", error_messages=messages, should_cancel=_cancel_check(context)
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
            "and paste it into Meshport's preferences",
        }
        data = self.http.get_json(
            "me", error_messages=messages, should_cancel=_cancel_check(context)
        )
        if not isinstance(data, dict):
            raise _format_error("the /me response is not a JSON object")
        username = _required_text(data, "username", "/me")
        return AccountInfo(PLATFORM_ID, username, _text(data.get("account")) or None)

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
            should_cancel=_cancel_check(context),
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
            "and paste it into Meshport's preferences.",
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
        relative = model.relative_to(self.staging)
        if self.final.exists():
            self.final.rename(self._replaced)
        self.staging.rename(self.final)
        shutil.rmtree(self._replaced, ignore_errors=True)
        return self.final / relative

    def remove_leftovers(self) -> None:
        for folder in (self.staging, self.staging.with_name(self.staging.name + ".extracting")):
            shutil.rmtree(folder, ignore_errors=True)
        for path in (self._zip, self._zip.with_name(self._zip.name + ".part")):
            path.unlink(missing_ok=True)
        if self._replaced.exists() and not self.final.exists():
            self._replaced.rename(self.final)
        shutil.rmtree(self._replaced, ignore_errors=True)


def build_search_params(query: SearchQuery) -> list[tuple[str, str]]:
    """Return the query string of ``GET /search`` for ``query``, filters validated."""
    params = [("type", "models")]
    if query.text.strip():
        params.append(("q", query.text.strip()))
    params += [
        ("downloadable", "true"),
        ("archives_flavours", "false"),
        ("count", str(max(1, min(MAX_COUNT, query.count)))),
    ]
    return params + _filter_params(query.filters or {})


def _filter_params(filters: dict) -> list[tuple[str, str]]:
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        raise _filter_error(f"unknown search filter '{unknown[0]}'", FILTER_NAMES)

    params = []
    for slug in _slug_list(filters, "categories", CATEGORY_SLUGS):
        params.append(("categories", slug))
    for slug in _slug_list(filters, "licenses", tuple(LICENSE_LABELS)):
        params.append(("licenses", slug))
    for name in BOOLEAN_FILTERS:
        if filters.get(name) is not None:
            params.append((name, _boolean_text(name, filters[name])))
    for name, allowed in (("pbr_type", PBR_TYPES), ("sort_by", SORT_VALUES)):
        value = filters.get(name)
        if value not in (None, ""):
            params.append((name, _one_of(name, str(value), allowed)))
    params += _face_count_params(filters)
    return params


def _slug_list(filters: dict, name: str, allowed: tuple[str, ...]) -> list[str]:
    value = filters.get(name)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        raise _filter_error(f"'{value}' is not a valid value of the filter '{name}'", allowed)
    return [_one_of(name, str(item).strip(), allowed) for item in items]


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _filter_error(f"'{value}' is not a valid value of the filter '{name}'", allowed)
    return value


def _boolean_text(name: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    raise _filter_error(f"'{value}' is not a valid value of the filter '{name}'", ("true", "false"))


def _face_count_params(filters: dict) -> list[tuple[str, str]]:
    counts = {}
    for name in FACE_COUNT_FILTERS:
        value = filters.get(name)
        if value is None:
            continue
        number = _int(value)
        if number is None:
            raise ConfigurationError(
                f"{LABEL}: '{value}' is not a valid value of the filter '{name}'. Use a whole "
                "number of faces, 0 or more.",
                platform=PLATFORM_ID,
            )
        counts[name] = number
    low, high = counts.get("min_face_count"), counts.get("max_face_count")
    if low is not None and high is not None and low > high:
        raise ConfigurationError(
            f"{LABEL}: min_face_count {low} is greater than max_face_count {high}. Swap or "
            "change them.",
            platform=PLATFORM_ID,
        )
    return [(name, str(number)) for name, number in counts.items()]


def _filter_error(problem: str, allowed: tuple[str, ...]) -> ConfigurationError:
    return ConfigurationError(
        f"{LABEL}: {problem}. Use one of: {', '.join(allowed)}.", platform=PLATFORM_ID
    )


def parse_search_page(data) -> SearchPage:
    """Map a ``/search`` response to a ``SearchPage``; ``next_page`` is the server's
    ``next`` URL, unchanged."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise _format_error("the search response has no 'results' list")
    results = [asset_from_model(entry) for entry in data["results"]]
    next_url = data.get("next")
    return SearchPage(results, next_url if isinstance(next_url, str) and next_url else None)


def asset_from_model(data) -> Asset:
    """Map a model from ``/search`` or ``/models/{uid}`` to an ``Asset``.

    Only ``uid`` and ``name`` are required; each missing or malformed optional field
    becomes None or "". Raises ``ResponseFormatError`` naming a missing required field.
    """
    if not isinstance(data, dict):
        raise _format_error("a model in the response is not a JSON object")
    uid = _required_text(data, "uid", "a model")
    archives = _archives(data)
    license_label, license_url = _license(data.get("license"))
    return Asset(
        platform=PLATFORM_ID,
        asset_id=uid,
        name=_required_text(data, "name", f"model {uid}"),
        author=_author(data.get("user")),
        license=license_label,
        license_url=license_url,
        url=_text(data.get("viewerUrl")) or None,
        download_size=_archive_number(archives, "size"),
        face_count=_face_count(data, archives),
        thumbnail_url=_thumbnail_url(data.get("thumbnails")),
        version=_text(data.get("updatedAt")) or None,
        animated=_animated(data.get("animationCount")),
        formats=tuple(archives),
    )


def _archives(data: dict) -> dict[str, dict]:
    archives = data.get("archives")
    if not isinstance(archives, dict):
        return {}
    found = {}
    for name, entry in archives.items():
        # With archives_flavours=true an archive is a list of texture-size flavours.
        if isinstance(entry, list):
            entry = next((item for item in entry if isinstance(item, dict)), None)
        if isinstance(entry, dict):
            found[name] = entry
    return found


def _archive_number(archives: dict[str, dict], field: str) -> int | None:
    for name in ("glb", "gltf"):
        number = _int(archives.get(name, {}).get(field))
        if number is not None:
            return number
    return None


def _face_count(data: dict, archives: dict[str, dict]) -> int | None:
    count = _int(data.get("faceCount"))
    return count if count is not None else _archive_number(archives, "faceCount")


def _license(value) -> tuple[str, str | None]:
    if isinstance(value, str):
        return LICENSE_LABELS.get(value, value), None
    if not isinstance(value, dict):
        return "", None
    slug = _text(value.get("slug"))
    label = (
        _text(value.get("label")) or _text(value.get("fullName")) or LICENSE_LABELS.get(slug, slug)
    )
    return label, _text(value.get("url")) or None


def _author(user) -> str:
    if not isinstance(user, dict):
        return ""
    return _text(user.get("displayName")) or _text(user.get("username"))


def _thumbnail_url(thumbnails) -> str | None:
    images = thumbnails.get("images") if isinstance(thumbnails, dict) else None
    candidates = [
        image for image in images or [] if isinstance(image, dict) and _text(image.get("url"))
    ]
    if not candidates:
        return None
    # The panel shows small previews, so take the image whose width is closest to 256.
    best = min(candidates, key=lambda image: abs((_int(image.get("width")) or 0) - 256))
    return best["url"]


def _animated(animation_count) -> bool | None:
    count = _int(animation_count)
    return None if count is None else count > 0


def choose_archive(response, requested: str | None, name: str) -> ArchiveOffer:
    """Pick the archive to fetch from a ``/download`` response: ``requested``, or GLB
    when offered, else glTF."""
    if not isinstance(response, dict):
        raise _format_error(f"the download response for '{name}' is not a JSON object")
    for file_format in (requested,) if requested else DOWNLOAD_FORMATS:
        entry = response.get(file_format)
        if isinstance(entry, dict):
            return _offer(file_format, entry, name)

    offered = ", ".join(sorted(key for key, value in response.items() if isinstance(value, dict)))
    if requested:
        raise NotDownloadableError(
            f"{LABEL}: '{name}' has no {requested.upper()} download (offered: "
            f"{offered or 'none'}). Choose another format.",
            platform=PLATFORM_ID,
        )
    raise _format_error(
        f"the download response for '{name}' offers neither GLB nor glTF (offered: "
        f"{offered or 'none'})"
    )


def _offer(file_format: str, entry: dict, name: str) -> ArchiveOffer:
    url = _text(entry.get("url"))
    if not url.startswith(("https://", "http://")):
        raise _format_error(f"the {file_format} download of '{name}' has no valid 'url'")
    size = _int(entry.get("size"))
    if size is None:
        log.warning(
            "platform=%s %s download of %r has no size; not checked", PLATFORM_ID, file_format, name
        )
    return ArchiveOffer(file_format, url, size)


def _download_error_messages(name: str, uid: str) -> dict[int, str]:
    model = f"'{name}' ({uid})"
    return {
        400: f"{model} is not downloadable (HTTP 400): its author has not allowed downloads",
        401: f"the API token is invalid or missing (HTTP 401), and downloads need a signed-in "
        f"user. Copy the token from {TOKEN_PAGE} into Meshport's preferences",
        403: f"no permission to download {model} (HTTP 403): it is a store model that needs "
        "a purchase, or its licence does not allow downloads for this account",
        404: f"{model} was not found (HTTP 404): it was deleted or made private",
    }


def _cancel_check(context: JobContext | None) -> Callable[[], bool] | None:
    if context is None:
        return None
    return lambda: context.cancelled


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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{LABEL}: the base URL '{redact_url(url)}' is not an http(s) URL. Set it like "
            f"{DEFAULT_BASE_URLS[PLATFORM_ID]}.",
            platform=PLATFORM_ID,
        )


def _required_text(data: dict, field: str, where: str) -> str:
    value = _text(data.get(field))
    if not value:
        raise _format_error(f"{where} has no '{field}'")
    return value


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _format_error(problem: str) -> ResponseFormatError:
    return ResponseFormatError(
        f"{LABEL}: {problem}. The API may have changed; update Meshport or report it.",
        platform=PLATFORM_ID,
    )
