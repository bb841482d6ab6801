"""Mapping Sketchfab's JSON responses to Meshport's records: search pages, model
details and the archive offers of ``/models/{uid}/download``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...core.errors import (
    NotDownloadableError,
    ResponseFormatError,
)
from ...core.models import (
    Asset,
    SearchPage,
)
from ..common import (
    response_format_error,
    size_of,
    text_of,
)
from .constants import DOWNLOAD_FORMATS, LABEL, LICENSE_LABELS, PLATFORM_ID

log = logging.getLogger(__name__)

# The fields without which a model cannot be listed or downloaded.
REQUIRED_FIELDS = ("uid", "name")


@dataclass(frozen=True)
class ArchiveOffer:
    """One archive from a ``/download`` response. The URL is pre-signed and short-lived,
    so it is never stored or logged unredacted."""

    file_format: str
    url: str
    size: int | None


def parse_search_page(data) -> SearchPage:
    """Map a ``/search`` response to a ``SearchPage``; ``next_page`` is the server's
    ``next`` URL, unchanged.

    A result that is not an object or lacks a required field is skipped with one
    warning. Raises ``ResponseFormatError`` only when the response has no
    ``results`` list.
    """
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise _format_error("the search response has no 'results' list")
    results = []
    for entry in data["results"]:
        problem = _result_problem(entry)
        if problem:
            uid = text_of(entry.get("uid")) if isinstance(entry, dict) else ""
            log.warning(
                "platform=%s skipped the search result uid=%s because %s",
                PLATFORM_ID,
                uid or "(none)",
                problem,
            )
            continue
        results.append(asset_from_model(entry))
    next_url = data.get("next")
    return SearchPage(results, next_url if isinstance(next_url, str) and next_url else None)


def _result_problem(entry) -> str | None:
    """Return why a search result cannot be shown, or None when it can."""
    if not isinstance(entry, dict):
        return "it is not a JSON object"
    missing = [repr(field) for field in REQUIRED_FIELDS if not text_of(entry.get(field))]
    if missing:
        return f"it has no {' or '.join(missing)}"
    return None


def asset_from_model(data) -> Asset:
    """Map a model from ``/search`` or ``/models/{uid}`` to an ``Asset``.

    Only ``REQUIRED_FIELDS`` (``uid`` and ``name``) are required; each missing or
    malformed optional field becomes None or "". Raises ``ResponseFormatError`` naming
    a missing required field.
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
        url=text_of(data.get("viewerUrl")) or None,
        download_size=_archive_number(archives, "size"),
        face_count=_face_count(data, archives),
        thumbnail_url=_thumbnail_url(data.get("thumbnails")),
        version=text_of(data.get("updatedAt")) or None,
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
        number = size_of(archives.get(name, {}).get(field))
        if number is not None:
            return number
    return None


def _face_count(data: dict, archives: dict[str, dict]) -> int | None:
    count = size_of(data.get("faceCount"))
    return count if count is not None else _archive_number(archives, "faceCount")


def _license(value) -> tuple[str, str | None]:
    if isinstance(value, str):
        return LICENSE_LABELS.get(value, value), None
    if not isinstance(value, dict):
        return "", None
    slug = text_of(value.get("slug"))
    label = (
        text_of(value.get("label"))
        or text_of(value.get("fullName"))
        or LICENSE_LABELS.get(slug, slug)
    )
    return label, text_of(value.get("url")) or None


def _author(user) -> str:
    if not isinstance(user, dict):
        return ""
    return text_of(user.get("displayName")) or text_of(user.get("username"))


def _thumbnail_url(thumbnails) -> str | None:
    images = thumbnails.get("images") if isinstance(thumbnails, dict) else None
    candidates = [
        image for image in images or [] if isinstance(image, dict) and text_of(image.get("url"))
    ]
    if not candidates:
        return None
    # The panel shows small previews, so take the image whose width is closest to 256.
    best = min(candidates, key=lambda image: abs((size_of(image.get("width")) or 0) - 256))
    return best["url"]


def _animated(animation_count) -> bool | None:
    count = size_of(animation_count)
    return None if count is None else count > 0


def choose_archive(response, requested: str | None, name: str) -> ArchiveOffer:
    """Pick the archive to fetch from a ``/download`` response: ``requested``, or GLB
    when offered, else glTF.

    Raises ``NotDownloadableError`` when the requested archive, or both GLB and glTF,
    are missing, because a model offered only as USDZ or as its source upload is a
    normal state. Raises ``ResponseFormatError`` when the response is not an object.
    """
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
    if not offered:
        raise NotDownloadableError(
            f"{LABEL}: '{name}' has no download archives at the moment. Try again later, "
            "or choose another model.",
            platform=PLATFORM_ID,
        )
    raise NotDownloadableError(
        f"{LABEL}: '{name}' offers only these archives: {offered}. Blender cannot import "
        "them through Meshport, which needs GLB or glTF. Choose another model.",
        platform=PLATFORM_ID,
    )


def other_archive(response: dict, tried: str, name: str) -> ArchiveOffer | None:
    """Return the offered archive of the download format other than ``tried`` (GLB or
    glTF) from a ``/download`` response, or None when it is not offered."""
    for file_format in DOWNLOAD_FORMATS:
        entry = response.get(file_format)
        if file_format != tried and isinstance(entry, dict):
            return _offer(file_format, entry, name)
    return None


def _offer(file_format: str, entry: dict, name: str) -> ArchiveOffer:
    url = text_of(entry.get("url"))
    if not url.startswith(("https://", "http://")):
        raise _format_error(f"the {file_format} download of '{name}' has no valid 'url'")
    size = size_of(entry.get("size"))
    if size is None:
        log.warning(
            "platform=%s %s download of %r has no size; not checked", PLATFORM_ID, file_format, name
        )
    return ArchiveOffer(file_format, url, size)


def _required_text(data: dict, field: str, where: str) -> str:
    value = text_of(data.get(field))
    if not value:
        raise _format_error(f"{where} has no '{field}'")
    return value


def _format_error(problem: str) -> ResponseFormatError:
    return response_format_error(LABEL, PLATFORM_ID, problem)
