"""The storage host behind Sketchfab's pre-signed archive links: renewing a rejected
link once, and wording the host's HTTP errors with the archive, model and host."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from ...core.errors import (
    DownloadError,
    MeshportError,
    NotFoundError,
    PlatformUnavailableError,
    RateLimitedError,
)
from .constants import LABEL, PLATFORM_ID
from .responses import choose_archive

log = logging.getLogger(__name__)

# Statuses a storage host sends when no object is behind a link.
MISSING_STATUSES = (404, 410)


class StorageLink:
    """The link of one archive and its renewal, which calls ``request_download`` (a
    fresh ``/download`` response) and takes the same archive from it.

    ``api_error`` keeps an error of that request, so that it reaches the artist as
    the API's error and is not worded as the storage host's.
    """

    def __init__(
        self, url: str, file_format: str, name: str, request_download: Callable[[], dict]
    ):
        self.url = url
        self.file_format = file_format
        self._name = name
        self._request_download = request_download
        self.api_error: MeshportError | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def renew(self) -> str:
        log.info(
            "platform=%s host=%s rejected the %s link of %r; requesting a new one",
            PLATFORM_ID,
            self.host,
            self.file_format,
            self._name,
        )
        try:
            offer = choose_archive(self._request_download(), self.file_format, self._name)
        except MeshportError as error:
            self.api_error = error
            raise
        self.url = offer.url
        return offer.url

    def is_storage_error(self, error: MeshportError) -> bool:
        """Return whether ``error`` is an HTTP error status of the storage host that
        the transfer raised, and not a rate limit, a failed check or the renewal's
        error."""
        return (
            error is not self.api_error
            and not isinstance(error, RateLimitedError)
            and (error.status or 0) >= 400
        )


class ArchiveMissing(Exception):
    """The storage host has no object behind an archive's link (HTTP 404 or 410).
    The client raises it while fetching and catches it to try the other archive."""

    def __init__(self, error: MeshportError, host: str, file_format: str):
        super().__init__(error.message)
        self.error = error
        self.host = host
        self.file_format = file_format


def archive_name(file_format: str) -> str:
    return "GLB" if file_format == "glb" else "glTF"


def missing_archive_error(
    name: str, uid: str, missing: ArchiveMissing, other_format: str | None
) -> NotFoundError:
    """Return the error for an archive that the storage host does not have;
    ``other_format`` is the offered format to suggest, if any."""
    next_step = "Try again later"
    if other_format:
        next_step += f", or choose --format {other_format}"
    return NotFoundError(
        f"{LABEL}: the {archive_name(missing.file_format)} archive of '{name}' ({uid}) was "
        f"not found on the storage host {missing.host} (HTTP {missing.error.status}). "
        f"{next_step}.",
        platform=PLATFORM_ID,
        status=missing.error.status,
    )


def both_missing_error(
    name: str, uid: str, first: ArchiveMissing, second: ArchiveMissing
) -> NotFoundError:
    statuses = f"{first.error.status} and {second.error.status}"
    if first.error.status == second.error.status:
        statuses = f"{first.error.status} for both"
    return NotFoundError(
        f"{LABEL}: neither the {archive_name(first.file_format)} nor the "
        f"{archive_name(second.file_format)} archive of '{name}' ({uid}) was found on the "
        f"storage host {second.host} (HTTP {statuses}). Try again later.",
        platform=PLATFORM_ID,
        status=second.error.status,
    )


def storage_error(
    name: str, uid: str, file_format: str, host: str, error: MeshportError
) -> MeshportError:
    """Return the error of a transfer that the storage host failed with an HTTP error
    other than 404 and 410, worded with the archive, the model and the host instead
    of as a response of Sketchfab's API."""
    archive = f"the {archive_name(file_format)} archive of '{name}' ({uid})"
    status = error.status
    if status in (400, 403):
        # core.download renews a link once after 400 or 403, so this is the second.
        return DownloadError(
            f"{LABEL}: the storage host {host} rejected the download link for {archive} "
            f"twice (HTTP {status}). Try again later.",
            platform=PLATFORM_ID,
            status=status,
        )
    if status >= 500:
        return PlatformUnavailableError(
            f"{LABEL}: the storage host {host} failed with HTTP {status} while sending "
            f"{archive}. Try again later.",
            platform=PLATFORM_ID,
            status=status,
        )
    return DownloadError(
        f"{LABEL}: the storage host {host} returned HTTP {status} for {archive}. Try "
        "again later.",
        platform=PLATFORM_ID,
        status=status,
    )
