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
    text_of,
)
from .constants import DOWNLOAD_FORMATS, LABEL, LICENSE_LABELS, PLATFORM_ID

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveOffer:
    """One archive from a ``/download`` response. The URL is pre-signed and short-lived,
    so it is never stored or logged unredacted."""

    file_format: str
    url: str
    size: int | None


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
    url = text_of(entry.get("url"))
    if not url.startswith(("https://", "http://")):
        raise _format_error(f"the {file_format} download of '{name}' has no valid 'url'")
    size = _int(entry.get("size"))
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


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _format_error(problem: str) -> ResponseFormatError:
    return response_format_error(LABEL, PLATFORM_ID, problem)
