"""A small threaded HTTP server on 127.0.0.1 with a route table and a request log.

Platform fakes subclass ``FakeServer`` and register handlers with ``route``; tests
read ``requests_seen`` to check what the client sent.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        return cls(status, json.dumps(data).encode(), merged)


Handler = Callable[["RequestInfo"], "Reply | None"]


@dataclass
class RequestInfo:
    seen: SeenRequest
    match: re.Match
    handler: BaseHTTPRequestHandler

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.seen.query.get(name)
        return values[0] if values else default


class FakeServer:
    """Serve routes on ``http://127.0.0.1:<port>``; use as a context manager."""

    def __init__(self):
        self._routes: list[tuple[str, re.Pattern, Handler]] = []
        self.requests_seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Add a handler; routes added later win over earlier ones."""
        self._routes.insert(0, (method, re.compile(pattern + r"$"), handler))

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self, "GET")

            def do_HEAD(self):
                server._handle(self, "HEAD")

            def do_POST(self):
                server._handle(self, "POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def paths_seen(self) -> list[str]:
        with self._lock:
            return [seen.path for seen in self.requests_seen]

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        seen = SeenRequest(method, parts.path, parse_qs(parts.query), dict(request.headers), body)
        with self._lock:
            self.requests_seen.append(seen)
        for route_method, pattern, handler in self._routes:
            match = pattern.match(parts.path)
            if match and route_method in (method, "GET" if method == "HEAD" else method):
                reply = handler(RequestInfo(seen, match, request))
                if reply is not None:
                    self._write(request, reply, head=method == "HEAD")
                return
        self._write(request, Reply.json({"detail": "Not found."}, 404))

    @staticmethod
    def _write(request: BaseHTTPRequestHandler, reply: Reply, head: bool = False) -> None:
        request.send_response(reply.status)
        headers = dict(reply.headers)
        headers.setdefault("Content-Length", str(len(reply.body)))
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        if not head:
            request.wfile.write(reply.body)
