"""A JSON API on 127.0.0.1 that fails on request: 429 with ``Retry-After``, bursts of
503, connection resets and stalls.

Each path has a queue of faults; a request takes the next one, and once the queue is
empty the path answers normally with ``{"path": ..., "serial": n}``, where ``n``
counts the requests that reached the handler. ``arrivals`` records each request's
path and its time on the injected clock, in milliseconds, for budget checks.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Callable

from fakes.server import FakeServer, Reply, RequestInfo


@dataclass(frozen=True)
class Fault:
    """One planned failure. ``kind`` is "status", "reset" or "stall"."""

    kind: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = 0.0

    @classmethod
    def http(cls, status: int, **headers: str) -> Fault:
        """An error answer; header names use underscores (``Retry_After="42"``)."""
        return cls(
            "status", status, {name.replace("_", "-"): value for name, value in headers.items()}
        )

    @classmethod
    def rate_limited(cls, retry_after: str | None = None) -> Fault:
        return cls.http(429, **({"Retry_After": retry_after} if retry_after else {}))

    @classmethod
    def reset(cls) -> Fault:
        """Close the connection with a TCP reset before answering."""
        return cls("reset")

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """Answer only after ``seconds`` (or when the server stops), so a client with a
        shorter read timeout gives up first."""
        return cls("stall", stall_seconds=seconds)


class FaultServer(FakeServer):
    """Serve JSON endpoints whose next answers can be replaced by faults."""

    def __init__(self, clock: Callable[[], float] = time.time):
        super().__init__()
        self.clock = clock
        self.arrivals: list[tuple[str, int]] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._served: dict[str, int] = defaultdict(int)
        self._headers: dict[str, dict[str, str]] = {}
        self._stopping = threading.Event()

    def endpoint(self, path: str, headers: dict[str, str] | None = None, body=None) -> None:
        """Answer GET and POST on ``path``; ``body`` replaces the default JSON, and
        ``headers`` are added to each normal answer."""
        self._headers[path] = dict(headers or {})

        def handle(info: RequestInfo) -> Reply | None:
            return self._answer(path, info, body)

        self.route("GET", path, handle)
        self.route("POST", path, handle)

    def inject(self, path: str, *faults: Fault) -> None:
        with self._lock:
            self._faults[path].extend(faults)

    def burst(self, path: str, status: int, count: int) -> None:
        self.inject(path, *[Fault.http(status)] * count)

    def count(self, path: str) -> int:
        """Return how many requests for ``path`` reached the server, faults included."""
        with self._lock:
            return sum(1 for seen in self.requests_seen if seen.path == path)

    def start(self) -> FaultServer:
        super().start()
        # A reset or a client that gave up on a stall leaves a broken socket, which
        # the standard server would report with a traceback on stderr.
        self._httpd.handle_error = lambda request, client_address: None
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            # serve_forever notices a shutdown only between polls of 0.5 s; a
            # connection made just after the request wakes it at once.
            address = self._httpd.server_address[:2]
            threading.Timer(0.01, _poke, args=(address,)).start()
        super().stop()

    def _answer(self, path: str, info: RequestInfo, body) -> Reply | None:
        # The base server writes headers and body separately; without TCP_NODELAY,
        # Nagle's algorithm and the client's delayed ACK add about 40 ms per answer.
        info.handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self.arrivals.append((path, int(self.clock() * 1000)))
            fault = self._faults[path].popleft() if self._faults[path] else None
            if fault is None:
                self._served[path] += 1
                serial = self._served[path]
        if fault is None:
            data = body if body is not None else {"path": path, "serial": serial}
            return Reply.json(data, headers=self._headers[path])
        if fault.kind == "reset":
            _reset_connection(info)
            return None
        if fault.kind == "stall":
            self._stopping.wait(fault.stall_seconds)
            return Reply.json({"path": path, "stalled": True})
        payload = json.dumps({"detail": f"fault {fault.status}"}).encode()
        headers = {"Content-Type": "application/json", **fault.headers}
        return Reply(fault.status, payload, headers)


def _poke(address: tuple[str, int]) -> None:
    try:
        socket.create_connection(address, timeout=1).close()
    except OSError:
        pass


def _reset_connection(info: RequestInfo) -> None:
    """Close the socket with SO_LINGER 0, which sends a TCP RST instead of a FIN."""
    connection: socket.socket = info.handler.connection
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    info.handler.close_connection = True
    connection.close()
