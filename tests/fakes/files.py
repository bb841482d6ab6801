"""A file server on 127.0.0.1 that misbehaves on request.

``FileServer`` serves byte strings at paths with an ETag, Last-Modified and Range
support, and applies a queue of faults, one per GET: cut the body short, stall
mid-body, lie in Content-Length, send gzip Content-Encoding, respond with an HTML
page and status 200, or respond with an error status. It also serves redirects and pre-signed URLs
that expire after a number of uses. Tests read ``requests_seen`` (from ``FakeServer``)
to check the headers the client sent.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from fakes.server import FakeServer, Reply, RequestInfo

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
    b"<body><p>Please sign in to download this file.</p></body></html>\n"
)
XML_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>\n"
)
STALL_SECONDS = 60.0
WRITE_SLICE = 64 * 1024


@dataclass(frozen=True)
class Fault:
    """One misbehaviour applied to a single response; build it with the functions below."""

    kind: str
    value: int = 0


def truncate(at: int) -> Fault:
    """Send the full Content-Length but close the connection after ``at`` body bytes."""
    return Fault("truncate", at)


def stall(at: int) -> Fault:
    """Send ``at`` body bytes, then send nothing until the server stops."""
    return Fault("stall", at)


def content_length(value: int) -> Fault:
    """Announce ``value`` as Content-Length but send the real body, then close."""
    return Fault("content_length", value)


def unknown_length() -> Fault:
    """Send the body with no Content-Length and end it by closing the connection."""
    return Fault("unknown_length")


def gzip_encoding() -> Fault:
    """Send the body gzip-compressed with ``Content-Encoding: gzip``, whatever was asked."""
    return Fault("gzip")


def html_page() -> Fault:
    """Respond with status 200 and an HTML sign-in page instead of the file."""
    return Fault("html")


def error_status(status: int) -> Fault:
    """Respond with ``status`` and an XML error body, as storage hosts do."""
    return Fault("status", status)


@dataclass
class ServedFile:
    body: bytes
    content_type: str
    etag_form: str | None
    etag: str | None
    last_modified: str | None
    ranges: bool
    faults: list[Fault] = field(default_factory=list)
    bytes_per_second: int | None = None


@dataclass
class _Signature:
    path: str
    uses_left: int


class FileServer(FakeServer):
    """Serve files with faults on ``http://127.0.0.1:<port>``; use as a context manager."""

    def __init__(self):
        super().__init__()
        self._files: dict[str, ServedFile] = {}
        self._signatures: dict[str, _Signature] = {}
        self._signed_paths: set[str] = set()
        self._release = threading.Event()
        self._state_lock = threading.Lock()
        self._serial = 0
        self._in_flight = 0
        self.max_in_flight = 0
        self.stalled = threading.Event()
        self.route("GET", r"/.*", self._serve)

    def add_file(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        etag: str | None = "strong",
        last_modified: bool = True,
        ranges: bool = True,
        faults: list[Fault] | tuple[Fault, ...] = (),
        signed: bool = False,
        bytes_per_second: int | None = None,
    ) -> str:
        """Serve ``body`` at ``path`` and return its URL.

        ``etag`` is ``"strong"`` (a quoted md5), ``"weak"`` (``W/`` form) or ``None``.
        ``faults`` apply to the next GETs in order, one each. A ``signed`` file gets
        status 403 unless the URL carries a signature from ``signed_url``.
        """
        with self._state_lock:
            self._files[path] = ServedFile(
                body=body,
                content_type=content_type,
                etag_form=etag,
                etag=_make_etag(body, etag),
                last_modified=self._next_date() if last_modified else None,
                ranges=ranges,
                faults=list(faults),
                bytes_per_second=bytes_per_second,
            )
            if signed:
                self._signed_paths.add(path)
        return self.url + path

    def replace_body(self, path: str, body: bytes) -> None:
        """Change the file at ``path`` so that its ETag and Last-Modified change too."""
        with self._state_lock:
            served = self._files[path]
            served.body = body
            served.etag = _make_etag(body, served.etag_form)
            served.last_modified = self._next_date() if served.last_modified else None

    def add_faults(self, path: str, *faults: Fault) -> None:
        with self._state_lock:
            self._files[path].faults.extend(faults)

    def add_redirect(self, path: str, target_url: str, status: int = 302) -> str:
        """Redirect GETs on ``path`` to ``target_url`` and return the URL of ``path``."""
        self.route(
            "GET",
            re.escape(path),
            lambda info: Reply(status, b"", {"Location": target_url}),
        )
        return self.url + path

    def signed_url(self, path: str, uses: int = 1) -> str:
        """Return a URL for ``path`` whose signature is accepted ``uses`` times."""
        with self._state_lock:
            self._serial += 1
            signature = hashlib.sha256(f"{path}:{self._serial}".encode()).hexdigest()[
                :20
            ]
            self._signatures[signature] = _Signature(path, uses)
        return f"{self.url}{path}?Signature={signature}"

    def range_headers(self) -> list[str | None]:
        """Return the Range header of each GET seen, ``None`` where there was none."""
        with self._lock:
            return [seen.headers.get("Range") for seen in self.requests_seen]

    def header_values(self, name: str) -> list[str | None]:
        with self._lock:
            return [seen.headers.get(name) for seen in self.requests_seen]

    def stop(self) -> None:
        self._release.set()
        super().stop()

    def _next_date(self) -> str:
        self._serial += 1
        return email.utils.formatdate(1_700_000_000 + self._serial * 60, usegmt=True)

    def _serve(self, info: RequestInfo) -> Reply | None:
        path = info.seen.path
        with self._state_lock:
            served = self._files.get(path)
            if served is None:
                return None
            if not self._signature_accepted(path, info):
                return Reply(403, XML_ERROR, {"Content-Type": "application/xml"})
            fault = served.faults.pop(0) if served.faults else None
            body, etag, last_modified = served.body, served.etag, served.last_modified
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return self._answer(info, served, fault, body, etag, last_modified)
        finally:
            with self._state_lock:
                self._in_flight -= 1

    def _signature_accepted(self, path: str, info: RequestInfo) -> bool:
        if path not in self._signed_paths:
            return True
        signature = self._signatures.get(info.param("Signature", ""))
        if signature is None or signature.path != path or signature.uses_left <= 0:
            return False
        signature.uses_left -= 1
        return True

    def _answer(self, info, served, fault, body, etag, last_modified) -> Reply | None:
        if fault is not None and fault.kind == "status":
            return Reply(fault.value, XML_ERROR, {"Content-Type": "application/xml"})
        if fault is not None and fault.kind == "html":
            return Reply(200, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"})

        headers = {"Content-Type": served.content_type}
        headers.update(_validators(etag, last_modified))
        if served.ranges:
            headers["Accept-Ranges"] = "bytes"
        status, start = 200, 0
        if fault is not None and fault.kind == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        elif served.ranges:
            status, start, range_headers = _range_answer(
                info.seen.headers, body, etag, last_modified
            )
            headers.update(range_headers)
            if status == 416:
                return Reply(416, b"", headers)

        self._send(
            info.handler, status, headers, body[start:], fault, served.bytes_per_second
        )
        return None

    def _send(
        self, handler: BaseHTTPRequestHandler, status, headers, body, fault, rate
    ) -> None:
        length = (
            fault.value
            if fault is not None and fault.kind == "content_length"
            else len(body)
        )
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if fault is None or fault.kind != "unknown_length":
            handler.send_header("Content-Length", str(length))
        handler.end_headers()

        if fault is not None and fault.kind in ("truncate", "stall"):
            body = body[: fault.value]
        closes = ("truncate", "stall", "content_length", "unknown_length")
        if fault is not None and fault.kind in closes:
            handler.close_connection = True
        _send_body(handler, body, rate)
        handler.wfile.flush()
        if fault is not None and fault.kind == "stall":
            self.stalled.set()
            self._release.wait(STALL_SECONDS)


def _send_body(handler: BaseHTTPRequestHandler, body: bytes, rate: int | None) -> None:
    view = memoryview(body)
    started = time.monotonic()
    for offset in range(0, len(view), WRITE_SLICE):
        piece = view[offset : offset + WRITE_SLICE]
        try:
            handler.wfile.write(piece)
        except OSError:  # the client went away, as cancelled downloads do
            handler.close_connection = True
            return
        if rate:
            due = started + (offset + len(piece)) / rate
            time.sleep(max(0.0, due - time.monotonic()))


def _make_etag(body: bytes, form: str | None) -> str | None:
    if form is None:
        return None
    digest = hashlib.md5(body, usedforsecurity=False).hexdigest()
    return f'W/"{digest}"' if form == "weak" else f'"{digest}"'


def _validators(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["ETag"] = etag
    if last_modified:
        headers["Last-Modified"] = last_modified
    return headers


def _range_answer(request_headers, body, etag, last_modified) -> tuple[int, int, dict]:
    """Apply ``Range`` and ``If-Range`` as RFC 9110 describes, for ``bytes=N-`` forms."""
    requested = request_headers.get("Range")
    match = re.fullmatch(r"bytes=(\d+)-", requested or "")
    if match is None:
        return 200, 0, {}
    condition = request_headers.get("If-Range")
    if condition is not None and condition not in (etag, last_modified):
        return 200, 0, {}
    if condition is not None and condition.startswith("W/"):
        return 200, 0, {}
    start = int(match.group(1))
    if start >= len(body):
        return 416, 0, {"Content-Range": f"bytes */{len(body)}"}
    return 206, start, {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
