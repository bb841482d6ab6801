"""Download of one file, streamed to ``<name>.part`` and renamed into place only when
it passes every check."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

from .. import policy
from ..http import PlatformHttp
from ..jobs import JobContext
from .checks import HEAD_SIZE, SUFFIX_KINDS, FileCheck, check_head, verify_file
from .decoding import keep_decoded_or_raw
from .progress import ProgressCallback
from .transfer import DEFAULT_MAX_ATTEMPTS, Transfer, UrlSource

log = logging.getLogger(__name__)


def download_file(
    http: PlatformHttp,
    url: str,
    destination: Path,
    context: JobContext,
    *,
    check: FileCheck = FileCheck(),  # noqa: B008 (a frozen dataclass)
    authenticated: bool = False,
    label: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    renew_url: UrlSource | None = None,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Download ``url`` to ``destination`` and return it.

    ``authenticated=False`` (the default) sends no Authorization header, as a
    pre-signed storage URL requires. With True the header goes only to the
    platform's own host: a request to another host, or a redirect to one, lacks it.
    ``renew_url``, when given, is called once to get a fresh link if the server
    responds with 400 or 403, as an expired pre-signed URL does. ``on_progress`` receives
    every progress report as a ``TransferProgress``. The studio policy's largest
    download is enforced on the announced size and again on the bytes received.

    Raises ``PolicyError`` when the file is larger than the policy allows,
    ``DownloadError`` when a check fails or the transfer keeps breaking off,
    ``JobCancelledError`` when cancelled, and the mapped ``MeshportError`` for an
    HTTP error status. In every case no ``.part`` file remains.
    """
    policy.check_download_size(check.size)
    destination.parent.mkdir(parents=True, exist_ok=True)
    label = label or destination.name
    if http.label and not label.startswith(f"{http.label}:"):
        label = f"{http.label}: {label}"
    part = destination.with_name(destination.name + ".part")
    decoded = destination.with_name(destination.name + ".decoded.part")
    kind = check.kind or SUFFIX_KINDS.get(destination.suffix.lower())
    check = replace(check, kind=kind)
    transfer = Transfer(
        http,
        url,
        part,
        context,
        label=label,
        check=check,
        authenticated=authenticated,
        renew_url=renew_url,
        on_progress=on_progress,
        max_bytes=policy.download_limit(),
    )
    try:
        transfer.run(max(1, max_attempts))
        context.raise_if_cancelled()
        _finish(transfer, decoded)
        os.replace(part, destination)
    except BaseException:
        part.unlink(missing_ok=True)
        decoded.unlink(missing_ok=True)
        raise
    return destination


def _finish(transfer: Transfer, decoded: Path) -> None:
    if transfer.encoding is not None:
        keep_decoded_or_raw(transfer, decoded)
    verify_file(transfer.part, transfer.check, label=transfer.label, url=transfer.url)
    with open(transfer.part, "rb") as handle:
        head = handle.read(HEAD_SIZE)
    check_head(head, transfer.check.kind, transfer.content_type, label=transfer.label)
