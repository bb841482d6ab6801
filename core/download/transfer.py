"""Attempts of one download. Each attempt streams the body into the ``.part`` file.
After a break, the next attempt resumes with an HTTP Range request or starts over."""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from .. import policy
from ..connections import abort_thread_connections
from ..errors import DownloadError, MeshportError
from ..redact import redact_url
from .checks import HEAD_SIZE, check_head
from .progress import ProgressCallback, ProgressMeter

log = logging.getLogger(__name__)

# 1 MiB chunks cost a third of the CPU time of 256 KiB ones (benchmarks/download.py).
CHUNK_SIZE = 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 4
CONTENT_DECODERS = {"gzip", "x-gzip", "deflate"}

UrlSource = Callable[[], str]


class _Interrupted(Exception):
    """A transfer broke off in a way the next attempt may repair."""


class Transfer:
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
        max_bytes=None,
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
        self.max_bytes: int | None = max_bytes  # the studio policy's largest download
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
        worker = threading.get_ident()
        unregister = self.context.on_cancel(lambda: abort_thread_connections(worker))
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
        finally:
            unregister()

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
        self._check_allowed_size(self.total)
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
        meter = ProgressMeter(
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
                write_chunk(handle, chunk, self.part, self.label)
                self.offset += len(chunk)
                self._check_allowed_size(self.offset)
                meter.update(self.offset)
        self.context.raise_if_cancelled()
        if self.total is not None and self.offset < self.total:
            raise _Interrupted(
                f"the connection closed after {self.offset} of {self.total} bytes"
            )
        meter.update(self.offset, force=True)

    def _check_allowed_size(self, size: int | None) -> None:
        if self.max_bytes is not None and size is not None and size > self.max_bytes:
            policy.check_download_size(size)

    def _checked_head(self, head: bytes) -> bytes:
        if len(head) >= HEAD_SIZE or (
            self.total is not None and len(head) >= self.total
        ):
            check_head(head, self.check.kind, self.content_type, label=self.label)
        return head

    def _chunks(self, response: requests.Response):
        stream = _raw_chunks(response.raw)
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
                raise _Interrupted(_describe_read_error(error)) from error
            yield chunk

    def _broken_off(self, attempts: int, interruption: _Interrupted) -> DownloadError:
        host = urlsplit(self.url).netloc
        return DownloadError(
            f"{self.label}: the transfer from {host} broke off {attempts} times, last "
            f"because {interruption}. Check the connection and try the download again.",
            platform=self.http.platform_id,
        )


def _describe_read_error(error: Exception) -> str:
    """Word an exception raised while reading a body for the artist."""
    if isinstance(error, (socket.timeout, urllib3.exceptions.ReadTimeoutError)):
        return "the server stopped sending until the read timed out"
    if isinstance(error, (urllib3.exceptions.ProtocolError, ConnectionError)):
        return "the server closed the connection before the end of the file"
    if isinstance(error, OSError) and error.strerror:
        return f"reading the body failed ({error.strerror})"
    return "reading the body failed"


def _raw_chunks(raw):
    """Yield the undecoded body in chunks of at most ``CHUNK_SIZE`` bytes.

    ``read1`` (urllib3 2.3 and later) returns what has arrived, so a slow server
    still gives frequent progress reports. ``stream`` waits for a full chunk.
    """
    if not hasattr(raw, "read1"):
        yield from raw.stream(CHUNK_SIZE, decode_content=False)
        return
    while True:
        chunk = raw.read1(CHUNK_SIZE, decode_content=False)
        if not chunk:
            return
        yield chunk


def write_chunk(handle, chunk: bytes, part: Path, label: str) -> None:
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
