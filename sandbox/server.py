"""The sandbox HTTP server: one port on 127.0.0.1 serving both platform protocols.

- Sketchfab Data API v3 under ``/v3`` and its storage host under ``/storage``
  (``sandbox.sketchfab``).
- Poly Haven's API under ``/polyhaven`` and its file host under ``/dl/polyhaven``
  (``sandbox.polyhaven``).

Each request served is reported as one line, ``METHOD PATH STATUS``, with secret
query values (signatures, expiry times) replaced, and never with a header.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..core.redact import redact_url

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# The one key the sandbox's Sketchfab accepts. It opens nothing but this sandbox.
DEMO_KEY = "meshport-sandbox-demo-key"
SKETCHFAB_PREFIX = "/v3"
POLYHAVEN_PREFIX = "/polyhaven"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    match: re.Match | None = None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def values(self, name: str) -> list[str]:
        """Return every value of a parameter, commas splitting one value into several."""
        return [item for value in self.query.get(name, []) for item in value.split(",") if item]


@dataclass
class Response:
    """A response with a body of bytes, or of a file streamed from disk."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None

    @classmethod
    def json(cls, data, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        return cls(status, json.dumps(data).encode(), merged)

    @classmethod
    def from_file(cls, path: Path, content_type: str) -> Response:
        return cls(200, headers={"Content-Type": content_type}, file=path)

    def length(self) -> int:
        return self.file.stat().st_size if self.file is not None else len(self.body)


Handler = Callable[[Request], Response]


class Router:
    def __init__(self):
        self._routes: list[tuple[str, re.Pattern, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern + "$"), handler))

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method and not (method == "GET" and request.method == "HEAD"):
                allowed = True
                continue
            request.match = match
            return handler(request)
        if allowed:
            return Response.json({"detail": f'Method "{request.method}" not allowed.'}, 405)
        return Response.json({"detail": "Not found."}, 404)


class SandboxServer:
    """Serve ``router`` on ``127.0.0.1:port`` (0 picks a free port) on a thread.

    ``on_request`` receives one line per request served; it is called on the
    server's threads.
    """

    def __init__(self, port: int = 0, on_request: Callable[[str], None] | None = None):
        self.router = Router()
        self._on_request = on_request or (lambda line: None)
        self._httpd = ThreadingHTTPServer((HOST, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="meshport-sandbox", daemon=True
        )
        self._thread.start()
        log.info("sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call before ``start``."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()
        log.info("sandbox on %s stopped", self.url)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                log.debug("http.server: " + format, *args)

            def do_GET(self):
                server._serve(self, "GET")

            def do_HEAD(self):
                server._serve(self, "HEAD")

            def do_POST(self):
                server._serve(self, "POST")

        return _Handler

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        request = Request(method, parts.path, parse_qs(parts.query), dict(handler.headers))
        try:
            response = self.router.dispatch(request)
        except Exception:  # one broken handler must not stop the server
            log.exception("sandbox handler for %s %s failed", method, parts.path)
            response = Response.json({"detail": "Internal server error."}, 500)

        line = f"{method} {redact_url(handler.path)} {response.status}"
        log.info("served %s", line)
        self._on_request(line)
        try:
            _write(handler, response, head=method == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            log.info("client closed the connection during %s %s", method, parts.path)


def _write(handler: BaseHTTPRequestHandler, response: Response, head: bool) -> None:
    handler.send_response(response.status)
    headers = dict(response.headers)
    headers["Content-Length"] = str(response.length())
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if head:
        return
    if response.file is None:
        handler.wfile.write(response.body)
        return
    with open(response.file, "rb") as source:
        shutil.copyfileobj(source, handler.wfile, 256 * 1024)
