"""The response cache: API JSON responses kept for a time to live per endpoint.

Built on requests-cache. Each ``PlatformHttp`` session is a ``CachedSession`` whose
default is to cache nothing; a request is cached only when its caller passes
``cache_ttl`` and ``is_cacheable`` agrees. A stale entry with an ``ETag`` or
``Last-Modified`` is revalidated with a conditional request.

Two defaults of requests-cache 1.x are changed here:

- The cache key leaves out the ``Authorization`` header by default, so two keys
  would share entries. ``cache_key`` adds a one-way fingerprint of every credential
  header to the key, never the credential.
- The default serializer is pickle, which would run code from a shared Redis
  written by someone else. JSON is used instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlsplit

import requests
from requests_cache import CachedSession, create_key
from requests_cache.backends import BaseCache, RedisCache, SQLiteCache
from requests_cache.policy import DO_NOT_CACHE
from requests_cache.policy.settings import AUTH_HEADERS, AUTH_PARAMS

from .config import Settings
from .ratelimit import enable_wal
from .redact import SECRET_PARAM
from .secrets import Secret

log = logging.getLogger(__name__)

CACHE_DB_NAME = "http_cache.sqlite"
SERIALIZER = "json"

# Headers that identify who is asking. Their fingerprints go into the cache key, and
# requests-cache removes them (and AUTH_PARAMS) from the requests it stores.
CREDENTIAL_HEADERS = (*AUTH_HEADERS, "Cookie")
REDACTED_PARAMETERS = (*CREDENTIAL_HEADERS, *AUTH_PARAMS)


def cache_key(request: requests.PreparedRequest, **kwargs: Any) -> str:
    """Return requests-cache's key for ``request`` extended with a fingerprint of each
    credential header, so a response fetched with key A is never found for key B."""
    base = create_key(request, **kwargs)
    fingerprints = [
        f"{name.lower()}={Secret(request.headers[name]).fingerprint()}"
        for name in CREDENTIAL_HEADERS
        if request.headers.get(name)
    ]
    credential = ";".join(fingerprints) or "anonymous"
    return hashlib.sha256(f"{base}|{credential}".encode()).hexdigest()[:32]


def is_cacheable(method: str, url: str, params: Mapping[str, Any] | None, stream: bool) -> bool:
    """Return whether the response to this request may be stored at all.

    Never stored: anything but GET, streamed file transfers, ``/download`` responses
    (they contain pre-signed URLs that expire), and URLs with a secret-looking query
    parameter such as a signature or token. Error responses are excluded by
    ``build_session``, which stores status 200 only.
    """
    if method.upper() != "GET" or stream:
        return False
    parts = urlsplit(url)
    if "/download" in parts.path:
        return False
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    names += list(params or {})
    return not any(SECRET_PARAM.search(name) for name in names)


def _is_storable(response: requests.Response) -> bool:
    """Return False for a response marked ``no-store``, or one whose request was
    redirected to a URL ``is_cacheable`` rejects, such as a pre-signed one.

    requests-cache reads response headers only with ``cache_control=True``, which
    would also let the server choose the time to live.
    """
    directives = response.headers.get("Cache-Control", "").lower()
    if "no-store" in directives:
        return False
    return is_cacheable("GET", response.url or "", None, stream=False)


def open_backend(settings: Settings) -> BaseCache:
    """Open the cache storage: the studio's Redis when configured, else SQLite."""
    from . import studio

    url = studio.redis_url(settings)
    if url:
        return RedisCache(
            namespace=studio.CACHE_NAMESPACE,
            connection=studio.connect(url),
            serializer=SERIALIZER,
        )
    path = Path(settings.data_dir) / CACHE_DB_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    # requests-cache switches to WAL on every connection; after this it is a no-op.
    enable_wal(path)
    return SQLiteCache(path, serializer=SERIALIZER, wal=True, busy_timeout=30_000)


def build_session(settings: Settings) -> CachedSession:
    """Return a session that caches only requests sent with an ``expire_after``."""
    backend = open_backend(settings)
    return CachedSession(
        backend=backend,
        expire_after=DO_NOT_CACHE,
        allowable_codes=(200,),
        allowable_methods=("GET",),
        ignored_parameters=REDACTED_PARAMETERS,
        key_fn=cache_key,
        filter_fn=_is_storable,
        # A Redis client is shared by every session of the process.
        autoclose=not isinstance(backend, RedisCache),
    )


def expire_after(
    method: str,
    url: str,
    params: Mapping[str, Any] | None,
    stream: bool,
    cache_ttl: float | None,
) -> int | None:
    """Return the ``expire_after`` to pass to a session from ``build_session``: the
    time to live in whole seconds, or None to keep the session's default, which
    neither reads nor writes the cache.

    requests-cache 1.3 turns a per-request ``expire_after`` into a
    ``Cache-Control: max-age`` request header of whole seconds. It rounds a fraction
    either way (0.5 became 0 and 2.5 became 3 when measured), so the time to live is
    rounded down here, and one below a second caches nothing. That header also
    reaches the server, which may take it as permission to respond from its own caches
    within that age. ``DO_NOT_CACHE`` is never passed per request, because
    requests-cache would send it to the server as an ``X-ACTUAL-NO-CACHE`` header.
    """
    seconds = int(cache_ttl or 0)
    if seconds < 1 or not is_cacheable(method, url, params, stream):
        return None
    return seconds


def cache_outcome(response: requests.Response, cached: bool) -> str:
    """Return what the cache did for one response: "hit" (no request sent),
    "revalidated" (a conditional request confirmed the entry), "miss", or "off"."""
    if not cached:
        return "off"
    if getattr(response, "revalidated", False):
        return "revalidated"
    if getattr(response, "from_cache", False):
        return "hit"
    return "miss"


class CacheCounters:
    """Hits, misses and revalidations per platform since the process started."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}

    def add(self, platform_id: str, outcome: str) -> None:
        if outcome == "off":
            return
        with self._lock:
            counts = self._counts.setdefault(platform_id, {"hit": 0, "miss": 0, "revalidated": 0})
            counts[outcome] += 1

    def get(self, platform_id: str) -> dict[str, int]:
        with self._lock:
            return dict(self._counts.get(platform_id, {"hit": 0, "miss": 0, "revalidated": 0}))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


COUNTERS = CacheCounters()


@dataclass(frozen=True)
class CacheSize:
    entries: int
    bytes: int


def size(settings: Settings) -> CacheSize:
    """Return the number of stored responses and the storage they take.

    For SQLite the bytes are the database file and its write-ahead log; for Redis,
    the serialized entries.
    """
    backend = open_backend(settings)
    try:
        entries = len(backend.responses)
        if isinstance(backend, SQLiteCache):
            return CacheSize(entries, _sqlite_bytes(Path(backend.db_path)))
        client = backend.responses.connection
        total = sum(
            client.strlen(key) for key in client.scan_iter(f"{backend.responses.namespace}:*")
        )
        return CacheSize(entries, int(total))
    finally:
        if isinstance(backend, SQLiteCache):
            backend.close()


def clear(settings: Settings) -> None:
    """Delete every stored response ("Clear cache" in preferences)."""
    backend = open_backend(settings)
    try:
        backend.clear()
        log.info("response cache cleared")
    finally:
        if isinstance(backend, SQLiteCache):
            backend.close()


def _sqlite_bytes(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        candidate = Path(f"{path}{suffix}")
        if candidate.exists():
            total += os.path.getsize(candidate)
    return total
