"""Stream a file to ``<name>.part`` and rename it into place only when it passes
every check."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import DownloadError, JobCancelledError
from .http import PlatformHttp
from .jobs import JobContext
from .models import TransferProgress
from .redact import redact_url

log = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True)
class FileCheck:
    """What a finished file must match; ``None`` skips that check."""

    size: int | None = None
    md5: str | None = None
    kind: str | None = None  # a key of formats.MAGIC, such as "glb" or "zip"


def download_file(
    http: PlatformHttp,
    url: str,
    destination: Path,
    context: JobContext,
    *,
    check: FileCheck = FileCheck(),
    authenticated: bool = False,
    label: str | None = None,
) -> Path:
    """Download ``url`` to ``destination`` and return it.

    ``authenticated=False`` (the default) sends no Authorization header, as a
    pre-signed storage URL requires. Raises ``DownloadError`` when a check fails and
    ``JobCancelledError`` when cancelled; in both cases no ``.part`` file remains.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    label = label or destination.name
    try:
        _stream(http, url, part, context, authenticated, label, check)
        verify_file(part, check, label=label, url=url)
        os.replace(part, destination)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return destination


def _stream(http, url, part, context, authenticated, label, check) -> None:
    response = http.request(
        "GET",
        url,
        stream=True,
        authenticated=authenticated,
        headers={"Accept-Encoding": "identity"},
        should_cancel=lambda: context.cancelled,
    )
    unregister = context.on_cancel(response.close)
    try:
        total = check.size or _content_length(response)
        _write_chunks(response, part, context, total, label)
        length = _content_length(response)
        if length is not None and part.stat().st_size != length:
            raise DownloadError(
                f"{label}: the transfer ended after {part.stat().st_size} of {length} bytes. "
                "Try the download again.",
                platform=http.platform_id,
            )
    except (OSError, ValueError) as error:
        context.raise_if_cancelled()
        raise DownloadError(
            f"{label}: the transfer from {redact_url(url)} broke off ({type(error).__name__}). "
            "Try the download again.",
            platform=http.platform_id,
        ) from error
    except Exception:
        context.raise_if_cancelled()
        raise
    finally:
        unregister()
        response.close()


def _write_chunks(response, part: Path, context: JobContext, total: int | None, label: str) -> None:
    started = time.monotonic()
    done = 0
    with open(part, "wb") as handle:
        for chunk in response.iter_content(CHUNK_SIZE):
            context.raise_if_cancelled()
            handle.write(chunk)
            done += len(chunk)
            progress = _progress(done, total, time.monotonic() - started)
            context.report_progress(progress.fraction, f"{label}: {_describe(progress)}")


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None


def _progress(done: int, total: int | None, elapsed: float) -> TransferProgress:
    speed = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / speed if total and speed > 0 else None
    return TransferProgress(done, total, speed, left)


def _describe(progress: TransferProgress) -> str:
    done_mib = progress.done_bytes / 2**20
    if progress.total_bytes:
        text = f"{done_mib:.1f} of {progress.total_bytes / 2**20:.1f} MiB"
    else:
        text = f"{done_mib:.1f} MiB"
    if progress.seconds_left is not None:
        text += f", {progress.seconds_left:.0f} s left"
    return text


def verify_file(path: Path, check: FileCheck, *, label: str, url: str = "") -> None:
    """Raise ``DownloadError`` unless ``path`` matches ``check``."""
    from .formats import check_magic

    size = path.stat().st_size
    if check.size is not None and size != check.size:
        raise DownloadError(
            f"{label}: size mismatch, got {size} bytes but the platform announced "
            f"{check.size}. Try the download again."
        )
    if check.md5 is not None:
        digest = md5_of(path)
        if digest.lower() != check.md5.lower():
            raise DownloadError(
                f"{label}: md5 mismatch (expected {check.md5}, got {digest}). "
                "Try the download again."
            )
    if check.kind is not None:
        check_magic(path, check.kind, label=label)


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["FileCheck", "download_file", "verify_file", "md5_of", "JobCancelledError"]
