"""Stream files to ``<name>.part`` and rename them into place only when they pass
every check.

One ``download_file`` call makes up to ``max_attempts`` transfers. When the
connection breaks mid-body, the next attempt continues with an HTTP Range request if
the first response carried a validator for ``If-Range`` (a strong ETag or
Last-Modified), and otherwise starts over. ``download_files`` runs several downloads
at once over the platform's shared connection pool.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from .errors import DownloadError, JobCancelledError, MeshportError
from .formats import MAGIC, check_magic, describe_head
from .http import PlatformHttp
from .jobs import JobContext
from .models import TransferProgress
from .redact import redact_url

log = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
DEFAULT_MAX_ATTEMPTS = 4
PROGRESS_INTERVAL = 0.25  # seconds between two progress reports of one transfer
HEAD_SIZE = 512  # bytes read to recognise magic numbers and error pages

# Decoding a body the server compressed although asked for identity stops beyond this
# many times its compressed size when the platform gave no size, against gzip bombs.
# NOTE: a guess; legitimate glTF JSON rarely compresses better than 50:1.
MAX_DECODED_RATIO = 200
CONTENT_DECODERS = {"gzip", "x-gzip", "deflate"}

# File kinds taken from the destination's suffix when ``FileCheck.kind`` is None.
# Only suffixes whose content is unambiguous are listed: a texture named .jpg is
# often a PNG, and an .fbx may be ASCII, which the import step reports on its own.
# Kind "xml" marks formats that are XML themselves (COLLADA, SVG, X3D): for them only
# an HTML page counts as an error page.
SUFFIX_KINDS = {
    ".glb": "glb",
    ".gltf": "gltf",
    ".zip": "zip",
    ".unitypackage": "gzip",
    ".dae": "xml",
    ".svg": "xml",
    ".x3d": "xml",
}

HTML_TYPES = ("text/html", "application/xhtml+xml")
XML_TYPES = ("text/xml", "application/xml")
HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
XML_STARTS = (b"<?xml", b"<error")

ProgressCallback = Callable[[TransferProgress], None]
UrlSource = Callable[[], str]


@dataclass(frozen=True)
class FileCheck:
    """The checks a finished file must pass; a ``None`` field skips its check."""

    size: int | None = None
    md5: str | None = None
    kind: str | None = None  # a key of formats.MAGIC, "gltf" (JSON) or "any"


class _Interrupted(Exception):
    """A transfer broke off in a way the next attempt may repair."""


def download_file(
    http: PlatformHttp,
    url: str,
    destination: Path,
    context: JobContext,
    *,
    check: FileCheck = FileCheck(),
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
    answers 400 or 403, as an expired pre-signed URL does. ``on_progress`` receives
    every progress report as a ``TransferProgress``.

    Raises ``DownloadError`` when a check fails or the transfer keeps breaking off,
    ``JobCancelledError`` when cancelled, and the mapped ``MeshportError`` for an
    HTTP error status. In every case no ``.part`` file remains.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    label = label or destination.name
    part = destination.with_name(destination.name + ".part")
    decoded = destination.with_name(destination.name + ".decoded.part")
    kind = check.kind or SUFFIX_KINDS.get(destination.suffix.lower())
    check = replace(check, kind=kind)
    transfer = _Transfer(
        http,
        url,
        part,
        context,
        label=label,
        check=check,
        authenticated=authenticated,
        renew_url=renew_url,
        on_progress=on_progress,
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


class _Transfer:
    """The state one download keeps across its attempts."""

    def __init__(
        self,
        http,
        url,
        part,
        context,
        *,
        label,
        check,
        authenticated,
        renew_url,
        on_progress,
    ):
        self.http = http
        self.url = url
        self.part = part
        self.context = context
        self.label = label
        self.check = check
        self.authenticated = authenticated
        self.renew_url: UrlSource | None = renew_url
        self.on_progress: ProgressCallback | None = on_progress
        self.offset = 0  # bytes already in the .part file
        self.total: int | None = None  # full length of the body, as announced
        self.validator: str | None = None  # the If-Range value for a resume
        self.encoding: str | None = None  # Content-Encoding of the bytes in .part
        self.content_type = ""

    def run(self, max_attempts: int) -> None:
        for attempt in range(1, max_attempts + 1):
            try:
                self._attempt()
                return
            except _Interrupted as interruption:
                self.context.raise_if_cancelled()
                if attempt == max_attempts:
                    raise self._broken_off(attempt, interruption) from interruption
                wait = self.http.retry_policy.backoff(attempt)
                log.info(
                    "download retry url=%s attempt=%d reason=%s received=%d resume=%s wait_s=%.2f",
                    redact_url(self.url),
                    attempt,
                    interruption,
                    self.offset,
                    self._can_resume(),
                    wait,
                )
                self.context.wait(wait)

    def _can_resume(self) -> bool:
        return self.offset > 0 and self.validator is not None and self.encoding is None

    def _attempt(self) -> None:
        resume = self._can_resume()
        # NOTE: a cancel that arrives before the response headers waits for them or
        # for the read timeout, because the socket is out of reach until then.
        response = self._open(resume)
        unregister = self.context.on_cancel(lambda: _shut_down_socket(response))
        try:
            start = self._start_offset(response, resume)
            if start == 0:
                self._take_representation(response)
            self._receive(response, start)
        finally:
            unregister()
            response.close()

    def _open(self, resume: bool) -> requests.Response:
        headers = {"Accept-Encoding": "identity"}
        if resume:
            headers["Range"] = f"bytes={self.offset}-"
            headers["If-Range"] = self.validator
        try:
            return self.http.request(
                "GET",
                self.url,
                stream=True,
                authenticated=self.authenticated,
                headers=headers,
                should_cancel=lambda: self.context.cancelled,
            )
        except MeshportError as error:
            if resume and error.status == 416:
                self.offset, self.validator = 0, None
                raise _Interrupted(
                    "the server rejected the range (HTTP 416)"
                ) from error
            if error.status in (400, 403) and self.renew_url is not None:
                log.info(
                    "download url=%s rejected with HTTP %s; requesting a new link",
                    redact_url(self.url),
                    error.status,
                )
                self.url, self.renew_url = self.renew_url(), None
                return self._open(resume)
            raise

    def _start_offset(self, response: requests.Response, resume: bool) -> int:
        """Return where the body starts in the file: ``offset`` for a matching 206."""
        if response.status_code == 200:
            if resume:
                log.info(
                    "download url=%s: the server sent the whole file; starting over",
                    redact_url(self.url),
                )
            return 0
        if response.status_code != 206:
            raise DownloadError(
                f"{self.label}: unexpected HTTP {response.status_code} from "
                f"{redact_url(self.url)}. Try the download again.",
                platform=self.http.platform_id,
                status=response.status_code,
            )
        value = response.headers.get("Content-Range", "")
        first, last, total = _parse_content_range(value)
        if first == 0 and last is not None and last + 1 == total:
            return 0
        whole_rest = first == self.offset and last is not None and last + 1 == total
        if resume and whole_rest and self.total in (None, total):
            self.total = total
            return self.offset
        self.offset, self.validator = 0, None
        raise _Interrupted(f"the server responded with Content-Range {value!r}")

    def _take_representation(self, response: requests.Response) -> None:
        headers = response.headers
        self.encoding = _content_encoding(headers, self.label)
        self.content_type = headers.get("Content-Type", "")
        self.total = _content_length(headers)
        if response.status_code == 206:
            self.total = _parse_content_range(headers.get("Content-Range", ""))[2]
        self.validator = None
        if self.encoding is None and headers.get("Accept-Ranges", "").lower() != "none":
            self.validator = _validator(headers)
        if self.encoding is not None:
            log.warning(
                "download url=%s: the server sent Content-Encoding %s although the "
                "request asked for identity",
                redact_url(self.url),
                self.encoding,
            )
            return
        if (
            self.check.size is not None
            and self.total is not None
            and self.total != self.check.size
        ):
            raise DownloadError(
                f"{self.label}: size mismatch, the server announced {self.total} bytes but "
                f"the platform announced {self.check.size}. Try the download again.",
                platform=self.http.platform_id,
            )

    def _receive(self, response: requests.Response, start: int) -> None:
        meter = _ProgressMeter(
            self.context, self.label, self.on_progress, start, self.total
        )
        head = b""
        with open(self.part, "r+b" if start else "wb") as handle:
            if start:
                # Truncate only here: ext4's auto_da_alloc option (on by default)
                # writes a file that was truncated to disk on close, costing 0.2 s
                # per 512 MiB in benchmarks/download.py.
                handle.seek(start)
                handle.truncate()
            self.offset = start
            for chunk in self._chunks(response):
                if start == 0 and len(head) < HEAD_SIZE and self.encoding is None:
                    head = self._checked_head(head + chunk[:HEAD_SIZE])
                _write(handle, chunk, self.part, self.label)
                self.offset += len(chunk)
                meter.update(self.offset)
        self.context.raise_if_cancelled()
        if self.total is not None and self.offset < self.total:
            raise _Interrupted(
                f"the connection closed after {self.offset} of {self.total} bytes"
            )
        meter.update(self.offset, force=True)

    def _checked_head(self, head: bytes) -> bytes:
        if len(head) >= HEAD_SIZE or (
            self.total is not None and len(head) >= self.total
        ):
            check_head(head, self.check.kind, self.content_type, label=self.label)
        return head

    def _chunks(self, response: requests.Response):
        stream = response.raw.stream(CHUNK_SIZE, decode_content=False)
        while True:
            self.context.raise_if_cancelled()
            try:
                chunk = next(stream)
            except StopIteration:
                return
            except Exception as error:
                self.context.raise_if_cancelled()
                if not isinstance(error, (urllib3.exceptions.HTTPError, OSError)):
                    raise
                raise _Interrupted(
                    f"{type(error).__name__} while reading the body"
                ) from error
            yield chunk

    def _broken_off(self, attempts: int, interruption: _Interrupted) -> DownloadError:
        host = urlsplit(self.url).netloc
        return DownloadError(
            f"{self.label}: the transfer from {host} broke off {attempts} times, last "
            f"because {interruption}. Check the connection and try the download again.",
            platform=self.http.platform_id,
        )


def _write(handle, chunk: bytes, part: Path, label: str) -> None:
    try:
        handle.write(chunk)
    except OSError as error:
        raise DownloadError(
            f"{label}: cannot write {part} ({error.strerror or error}). Free some disk "
            "space or choose another download folder."
        ) from error


def _shut_down_socket(response: requests.Response) -> None:
    """Wake a worker blocked reading ``response``; runs on the cancelling thread.

    Shutting the socket down makes the blocked read return at once, whereas closing
    it from another thread may leave the read waiting until the read timeout.
    """
    raw = response.raw
    try:
        raw.shutdown()  # urllib3 2.3 and later
        return
    except (AttributeError, ValueError, RuntimeError, OSError):
        pass
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _content_length(headers) -> int | None:
    value = headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


def _content_encoding(headers, label: str) -> str | None:
    value = headers.get("Content-Encoding", "").strip().lower()
    if value in ("", "identity"):
        return None
    if value in CONTENT_DECODERS:
        return value
    raise DownloadError(
        f"{label}: the server sent the file with Content-Encoding {value!r} although "
        "the request asked for identity, and Meshport cannot decode it. Try again later "
        "or report the server."
    )


def _validator(headers) -> str | None:
    """Return the value for ``If-Range``: a strong ETag, else Last-Modified.

    RFC 9110 forbids a weak ETag in If-Range, so a weak one falls back to the date.
    """
    etag = headers.get("ETag", "").strip()
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("Last-Modified") or None


def _parse_content_range(value: str) -> tuple[int | None, int | None, int | None]:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+)\s*", value or "")
    if match is None:
        return None, None, None
    first, last, total = (int(group) for group in match.groups())
    return first, last, total


class _ProgressMeter:
    """Turns byte counts into at most one ``TransferProgress`` report per interval."""

    def __init__(
        self, context, label, on_progress, start_offset: int, total: int | None
    ):
        self.context = context
        self.label = label
        self.on_progress = on_progress
        self.start_offset = start_offset
        self.total = total
        self.started = time.monotonic()
        self.last_report = 0.0

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_report < PROGRESS_INTERVAL:
            return
        self.last_report = now
        progress = transfer_progress(
            done - self.start_offset, done, self.total, now - self.started
        )
        self.context.report_progress(
            progress.fraction, f"{self.label}: {describe(progress)}"
        )
        if self.on_progress is not None:
            self.on_progress(progress)


def transfer_progress(
    moved: int, done: int, total: int | None, elapsed: float
) -> TransferProgress:
    """Return the progress after ``moved`` bytes in ``elapsed`` seconds of this
    attempt, of which ``done`` bytes are in the file."""
    speed = moved / elapsed if elapsed > 0 else 0.0
    seconds_left = (total - done) / speed if total and speed > 0 else None
    return TransferProgress(done, total, speed, seconds_left)


def describe(progress: TransferProgress) -> str:
    """Return a progress line such as "12.0 of 48.0 MiB, 3.1 MiB/s, 12 s left"."""
    done_mib = progress.done_bytes / 2**20
    if progress.total_bytes:
        text = f"{done_mib:.1f} of {progress.total_bytes / 2**20:.1f} MiB"
    else:
        text = f"{done_mib:.1f} MiB"
    if progress.bytes_per_second > 0:
        text += f", {progress.bytes_per_second / 2**20:.1f} MiB/s"
    if progress.seconds_left is not None:
        text += f", {progress.seconds_left:.0f} s left"
    return text


def _finish(transfer: _Transfer, decoded: Path) -> None:
    if transfer.encoding is not None:
        _keep_decoded_or_raw(transfer, decoded)
    verify_file(transfer.part, transfer.check, label=transfer.label, url=transfer.url)
    with open(transfer.part, "rb") as handle:
        head = handle.read(HEAD_SIZE)
    check_head(head, transfer.check.kind, transfer.content_type, label=transfer.label)


def _keep_decoded_or_raw(transfer: _Transfer, decoded: Path) -> None:
    """Leave in ``transfer.part`` the body as the server meant it.

    By HTTP semantics the decoded bytes are the file. Some servers wrongly label a stored
    .gz file with ``Content-Encoding: gzip``, so when the decoded bytes fail the
    checks and the bytes as sent pass them, those are kept instead.
    """
    check, label = transfer.check, transfer.label
    try:
        _decode_file(transfer.part, decoded, transfer.encoding, check.size, label)
        verify_file(decoded, check, label=label, url=transfer.url)
    except DownloadError as decoded_error:
        decoded.unlink(missing_ok=True)
        verifiable = check.size is not None or check.md5 is not None
        if not (verifiable or check.kind in MAGIC or check.kind == "gltf"):
            raise  # nothing could confirm the bytes as sent either
        try:
            verify_file(transfer.part, check, label=label, url=transfer.url)
        except DownloadError:
            raise decoded_error from None
        log.warning(
            "download url=%s: kept the %s bytes as sent, because only they pass the checks",
            redact_url(transfer.url),
            transfer.encoding,
        )
        return
    os.replace(decoded, transfer.part)


def _decode_file(
    source: Path, target: Path, encoding: str, size: int | None, label: str
):
    limit = size if size is not None else source.stat().st_size * MAX_DECODED_RATIO
    decompressor = zlib.decompressobj(
        32 + zlib.MAX_WBITS
    )  # detects gzip and zlib headers
    written = 0
    with open(source, "rb") as reader, open(target, "wb") as writer:
        try:
            for block in iter(lambda: reader.read(CHUNK_SIZE), b""):
                data = decompressor.decompress(block, CHUNK_SIZE)
                while True:
                    written += len(data)
                    if written > limit:
                        raise DownloadError(
                            f"{label}: the {encoding}-encoded body decodes to more than "
                            f"{limit} bytes, more than expected. Try the download again."
                        )
                    _write(writer, data, target, label)
                    if not decompressor.unconsumed_tail:
                        break
                    data = decompressor.decompress(
                        decompressor.unconsumed_tail, CHUNK_SIZE
                    )
                if decompressor.eof:
                    break
        except zlib.error as error:
            raise DownloadError(
                f"{label}: the server declared Content-Encoding {encoding}, but the body "
                f"is not valid {encoding} data ({error}). Try the download again."
            ) from error
    if not decompressor.eof:
        raise DownloadError(
            f"{label}: the {encoding}-encoded body ends early. Try the download again."
        )


def check_head(
    head: bytes, kind: str | None, content_type: str = "", *, label: str
) -> None:
    """Raise ``DownloadError`` when the first bytes of a file show an HTML or XML
    error page, or do not start the way a ``kind`` file does."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    media_type = content_type.split(";")[0].strip().lower()
    if _is_error_page(stripped, media_type, kind):
        raise DownloadError(
            f"{label}: the server sent an HTML or XML page ({media_type or 'no Content-Type'}, "
            f"starting with {describe_head(stripped[:32])}) instead of the file. The link "
            "may have expired or need a sign-in; try the download again."
        )
    if kind == "gltf" and not stripped.startswith(b"{"):
        raise DownloadError(
            f"{label}: the file is not glTF JSON (it starts with {describe_head(head[:16])}). "
            "Try the download again."
        )
    prefixes = MAGIC.get(kind or "")
    if prefixes and not any(head.startswith(prefix) for prefix in prefixes):
        raise DownloadError(
            f"{label}: the file is not a {kind.upper()} file (it starts with "
            f"{describe_head(head[:16])}). The server may have sent an error page; try again."
        )


def _is_error_page(stripped: bytes, media_type: str, kind: str | None) -> bool:
    if not stripped.startswith(b"<"):
        return False
    start = stripped[:16].lower()
    if media_type in HTML_TYPES or start.startswith(HTML_STARTS):
        return True
    return kind != "xml" and (media_type in XML_TYPES or start.startswith(XML_STARTS))


def verify_file(path: Path, check: FileCheck, *, label: str, url: str = "") -> None:
    """Raise ``DownloadError`` unless ``path`` matches ``check``.

    Beyond the magic bytes, a GLB's length field must equal the file size and a zip
    must end with its central directory, so a body cut short is caught even when the
    server announced the short length itself.
    """
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
        _check_structure(path, check.kind, size, label)


def _check_structure(path: Path, kind: str, size: int, label: str) -> None:
    if kind == "glb":
        with open(path, "rb") as handle:
            header = handle.read(12)
        declared = struct.unpack("<I", header[8:12])[0] if len(header) == 12 else None
        if declared != size:
            raise DownloadError(
                f"{label}: the GLB header declares {declared} bytes but the file has "
                f"{size}, so the transfer was cut short. Try the download again."
            )
    if kind == "zip" and not zipfile.is_zipfile(path):
        raise DownloadError(
            f"{label}: the zip archive has no central directory, so the transfer was cut "
            "short. Try the download again."
        )


def md5_of(path: Path) -> str:
    """Return the hex md5 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


DEFAULT_PARALLEL_DOWNLOADS = 4
MAX_PARALLEL_DOWNLOADS = 16


@dataclass(frozen=True)
class DownloadRequest:
    """One file of a batch, with the arguments ``download_file`` takes for it."""

    url: str
    destination: Path
    check: FileCheck = FileCheck()
    authenticated: bool = False
    label: str | None = None


@dataclass
class DownloadOutcome:
    """The result of one batch item: ``path`` when it finished, else ``error``."""

    request: DownloadRequest
    path: Path | None = None
    error: MeshportError | None = None


def download_files(
    http: PlatformHttp,
    items: list[DownloadRequest],
    context: JobContext,
    *,
    max_parallel: int = DEFAULT_PARALLEL_DOWNLOADS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[Path]:
    """Download every item, ``max_parallel`` at a time, and return their paths in order.

    The first failure cancels the other items and is raised. Files that finished
    stay where they are; each failed or cancelled item leaves no ``.part`` file.
    """
    batch = DownloadBatch(
        http, items, context, max_parallel=max_parallel, max_attempts=max_attempts
    )
    outcomes = batch.run()
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    failures = [error for error in errors if not isinstance(error, JobCancelledError)]
    if failures or errors:
        raise (failures or errors)[0]
    return [outcome.path for outcome in outcomes]


def parallel_limit(value: int) -> int:
    """Return ``value`` clamped to 1..MAX_PARALLEL_DOWNLOADS, logging a clamp."""
    limited = min(MAX_PARALLEL_DOWNLOADS, max(1, int(value)))
    if limited != value:
        log.warning(
            "parallel downloads set to %s; using %d (allowed: 1 to %d)",
            value,
            limited,
            MAX_PARALLEL_DOWNLOADS,
        )
    return limited


class DownloadBatch:
    """Several downloads on worker threads, at most ``max_parallel`` at a time, over
    the shared connection pool of ``http``.

    Cancelling the job's context cancels every item and ``cancel(index)`` cancels
    one. With ``stop_on_error`` (the default) the first failure cancels the rest.
    Progress is reported to the job's context as one sum over all items.
    """

    def __init__(
        self,
        http: PlatformHttp,
        items: list[DownloadRequest],
        context: JobContext,
        *,
        max_parallel: int = DEFAULT_PARALLEL_DOWNLOADS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        stop_on_error: bool = True,
    ):
        self.http = http
        self.items = list(items)
        self.context = context
        self.max_parallel = parallel_limit(max_parallel)
        self.max_attempts = max_attempts
        self.stop_on_error = stop_on_error
        self._contexts = [
            _ItemContext(item.label or item.destination.name) for item in self.items
        ]
        self._progress: list[TransferProgress | None] = [None] * len(self.items)
        self._finished = 0
        self._started = time.monotonic()
        self._last_report = 0.0
        self._lock = threading.Lock()

    def cancel(self, index: int) -> None:
        self._contexts[index].cancel()

    def cancel_all(self) -> None:
        for item_context in self._contexts:
            item_context.cancel()

    def run(self) -> list[DownloadOutcome]:
        """Run every item and return their outcomes in order; raises
        ``JobCancelledError`` when the job itself was cancelled."""
        workers = min(self.max_parallel, max(1, len(self.items)))
        unregister = self.context.on_cancel(self.cancel_all)
        try:
            with ThreadPoolExecutor(
                workers, thread_name_prefix="meshport-download"
            ) as pool:
                futures = [
                    pool.submit(self._download, index)
                    for index in range(len(self.items))
                ]
                outcomes = [future.result() for future in futures]
        finally:
            unregister()
        self.context.raise_if_cancelled()
        return outcomes

    def _download(self, index: int) -> DownloadOutcome:
        item, item_context = self.items[index], self._contexts[index]
        outcome = DownloadOutcome(item)
        try:
            item_context.raise_if_cancelled()
            outcome.path = download_file(
                self.http,
                item.url,
                item.destination,
                item_context,
                check=item.check,
                authenticated=item.authenticated,
                label=item.label,
                max_attempts=self.max_attempts,
                on_progress=lambda progress: self._record(index, progress),
            )
        except MeshportError as error:
            outcome.error = error
            if self.stop_on_error and not isinstance(error, JobCancelledError):
                self.cancel_all()
        except BaseException:
            self.cancel_all()
            raise
        with self._lock:
            self._finished += 1
        return outcome

    def _record(self, index: int, progress: TransferProgress) -> None:
        with self._lock:
            self._progress[index] = progress
            now = time.monotonic()
            if now - self._last_report < PROGRESS_INTERVAL:
                return
            self._last_report = now
            summary = self._summary(now)
            finished = self._finished
        text = f"{finished} of {len(self.items)} files, {describe(summary)}"
        self.context.report_progress(summary.fraction, text)

    def _summary(self, now: float) -> TransferProgress:
        done = sum(progress.done_bytes for progress in self._progress if progress)
        totals = [
            (
                progress.total_bytes
                if progress and progress.total_bytes
                else item.check.size
            )
            for item, progress in zip(self.items, self._progress)
        ]
        total = None if None in totals else sum(totals)
        return transfer_progress(done, done, total, now - self._started)


class _ItemContext:
    """The cancel flag and progress channel of one batch item, used by its
    ``download_file`` in place of the job's context."""

    def __init__(self, label: str):
        self.label = label
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelledError(f"{self.label}: cancelled.")

    def wait(self, seconds: float) -> None:
        if self._event.wait(seconds):
            self.raise_if_cancelled()

    def report_progress(self, fraction: float | None, text: str = "") -> None:
        """Drop per-file reports; the batch reports one sum through ``on_progress``."""

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)
            run_now = self._event.is_set()
        if run_now:
            _run_cancel_callback(callback)

        def unregister() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unregister

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            _run_cancel_callback(callback)


def _run_cancel_callback(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # a cancel hook must never break cancelling
        log.debug("cancel callback failed", exc_info=True)


__all__ = [
    "DownloadBatch",
    "DownloadOutcome",
    "DownloadRequest",
    "FileCheck",
    "JobCancelledError",
    "check_head",
    "download_file",
    "download_files",
    "md5_of",
    "verify_file",
]
