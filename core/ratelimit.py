"""Rate budgets per platform, shared by every thread and persisted between runs.

Each platform has local windows (requests per hour, and for GitHub per minute for
search), counted with pyrate-limiter's sliding-window buckets in SQLite under the data
folder, or in Redis for a studio. The server's own signals win over the local count:
a 429, a 403 with ``X-RateLimit-Remaining: 0``, ``Retry-After`` and
``X-RateLimit-Reset`` set a "blocked until" time per platform (per resource for
GitHub's search limits) that every thread and process reads before sending.

The check runs inside the transport adapter (``RateLimitedAdapter``), below the
response cache, so a response served from the cache spends no budget.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import requests
from pyrate_limiter import Duration, Rate, RateItem, SQLiteBucket, SQLiteQueries
from requests.adapters import HTTPAdapter

from .config import DEFAULT_RATE_PER_HOUR, PlatformSettings, Settings

log = logging.getLogger(__name__)

Clock = Callable[[], float]

RATE_DB_NAME = "ratelimit.sqlite"

# GitHub's REST API allows 5000 requests per hour with a token and 60 without
# (docs.github.com, "Rate limits for the REST API"); search and code search have
# separate per-minute limits.
# NOTE: the per-minute numbers are defaults, not checked against GitHub's search
# documentation (a third-party client documents 10 per minute without a token). The
# X-RateLimit-* headers of each response correct them.
GITHUB_ANONYMOUS_PER_HOUR = 60
GITHUB_SEARCH_PER_MINUTE = 30
GITHUB_ANONYMOUS_SEARCH_PER_MINUTE = 10
GITHUB_CODE_SEARCH_PER_MINUTE = 9

# Expired entries are deleted from a bucket at most this often (milliseconds).
LEAK_INTERVAL_MS = 60_000


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Parse ``Retry-After`` as seconds or an HTTP date; None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def rate_limit_wait(response: requests.Response, now: float | None = None) -> float | None:
    """Return the wait the server requested, from Retry-After or X-RateLimit-Reset.

    The reset is an epoch second whose exact moment within that second is unknown, so
    one second is added to it.
    """
    wait = parse_retry_after(response.headers.get("Retry-After"), now)
    if wait is not None:
        return wait
    reset = response.headers.get("X-RateLimit-Reset")
    if reset and reset.isdigit():
        now = time.time() if now is None else now
        return max(0.0, float(reset) - now + 1.0)
    return None


def is_rate_limited(response: requests.Response) -> bool:
    """Return whether ``response`` says to slow down: 429, or a 403 with no requests
    remaining or with ``Retry-After`` (GitHub's secondary rate limits)."""
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    headers = response.headers
    return headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in headers


def server_wait(response: requests.Response, now: float) -> float | None:
    """Return how long the server requested every client to wait, or None.

    That is the wait of a rate-limited response, of a 503 with ``Retry-After``, and of
    a successful response that reports no requests remaining until the reset.
    """
    exhausted = response.headers.get("X-RateLimit-Remaining") == "0"
    if is_rate_limited(response) or exhausted:
        return rate_limit_wait(response, now)
    if response.status_code == 503:
        return parse_retry_after(response.headers.get("Retry-After"), now)
    return None


def describe_wait(seconds: float | None) -> str:
    if seconds is None:
        return "try again in a minute"
    return f"next request in {max(1, round(seconds))} s"


@dataclass(frozen=True)
class Budget:
    """The local windows of one platform resource for one credential.

    ``resource`` is "core" except for GitHub's search resources. ``credential`` is
    the key's fingerprint, or "anonymous" for requests without a key.
    """

    platform_id: str
    resource: str
    credential: str
    rates: tuple[Rate, ...]

    @property
    def bucket_name(self) -> str:
        return f"{self.platform_id}_{self.resource}_{self.credential}"

    @property
    def scope(self) -> str:
        """The name under which the server's wait and state are stored."""
        return f"{self.platform_id}:{self.resource}"


@dataclass(frozen=True)
class ServerState:
    """The platform's last ``X-RateLimit-*`` headers for one scope."""

    remaining: int | None
    limit: int | None
    reset_at: float | None
    updated_at: float

    @classmethod
    def from_response(cls, response: requests.Response, now: float) -> ServerState | None:
        remaining = _header_int(response, "X-RateLimit-Remaining")
        limit = _header_int(response, "X-RateLimit-Limit")
        reset = _header_int(response, "X-RateLimit-Reset")
        if remaining is None and limit is None:
            return None
        return cls(remaining, limit, float(reset) if reset is not None else None, now)


def _header_int(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def resource_for(platform_id: str, path: str) -> str:
    """Return the budget a request path counts against; ``path`` is relative to the
    platform's base URL."""
    if platform_id == "github":
        if path.startswith("/search/code"):
            return "code_search"
        if path.startswith("/search/"):
            return "search"
    return "core"


def windows_for(platform: PlatformSettings, resource: str, authenticated: bool) -> tuple[Rate, ...]:
    """Return the local windows of a platform resource; empty means no local limit."""
    per_hour = platform.rate_per_hour or DEFAULT_RATE_PER_HOUR.get(platform.platform_id, 0)
    if platform.platform_id == "github":
        if resource == "search":
            per_minute = (
                GITHUB_SEARCH_PER_MINUTE if authenticated else GITHUB_ANONYMOUS_SEARCH_PER_MINUTE
            )
            return (Rate(per_minute, Duration.MINUTE),)
        if resource == "code_search":
            return (Rate(GITHUB_CODE_SEARCH_PER_MINUTE, Duration.MINUTE),)
        if not authenticated:
            per_hour = min(per_hour, GITHUB_ANONYMOUS_PER_HOUR) or GITHUB_ANONYMOUS_PER_HOUR
    return (Rate(per_hour, Duration.HOUR),) if per_hour > 0 else ()


def budget_for(platform: PlatformSettings, resource: str, authenticated: bool) -> Budget:
    credential = "anonymous"
    if authenticated and platform.key:
        credential = platform.key.fingerprint()
    rates = windows_for(platform, resource, authenticated)
    return Budget(platform.platform_id, resource, credential, rates)


class BudgetWait(Exception):
    """Raised by the adapter instead of sending, when the local budget is used up or
    the platform requested a wait. ``PlatformHttp`` waits ``seconds`` or gives up.

    ``reason`` is "server" for a wait the platform requested, "budget" for a full
    local window.
    """

    def __init__(self, seconds: float, budget: Budget, reason: str):
        super().__init__(f"{budget.scope}: wait {seconds:.1f} s ({reason})")
        self.seconds = seconds
        self.budget = budget
        self.reason = reason


def enable_wal(path: Path, attempts: int = 100) -> None:
    """Switch the SQLite file at ``path`` to write-ahead logging, creating it if needed.

    The switch can fail with "database is locked" despite the busy timeout (seen when
    two processes opened a new file at once), so it is tried again, every tenth of a
    second up to ``attempts`` times. A file stays in WAL mode once switched.
    """
    for attempt in range(1, attempts + 1):
        connection = sqlite3.connect(path, timeout=30.0)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts:
                raise
        finally:
            connection.close()
        time.sleep(0.1)


class _TransactionalSQLiteBucket(SQLiteBucket):
    """pyrate-limiter's SQLite bucket with the count and the insert in one write
    transaction, so two processes sharing the file cannot both take the last slot."""

    def put(self, item: RateItem) -> bool:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                admitted = super().put(item)
            except BaseException:
                self.conn.rollback()
                raise
            if self.conn.in_transaction:
                self.conn.commit()
            return admitted


class SqliteRateStore:
    """Budgets, server waits and server state in one SQLite file.

    One connection serves every thread of the process under one lock. Other
    processes (a second Blender, the command line) share the file through SQLite's
    own locking.
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._buckets: dict[str, _TransactionalSQLiteBucket] = {}
        self._last_leak: dict[str, int] = {}
        enable_wal(path)
        self._conn = sqlite3.connect(
            path, timeout=30.0, isolation_level="DEFERRED", check_same_thread=False
        )
        with self._lock:
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS blocks (scope TEXT PRIMARY KEY, until REAL)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS server_state (scope TEXT PRIMARY KEY,"
                " remaining INTEGER, rate_limit INTEGER, reset_at REAL, updated_at REAL)"
            )
            self._conn.commit()

    def acquire(self, budget: Budget, now_ms: int) -> int:
        """Take one request from ``budget``; return 0, or the milliseconds to wait."""
        bucket = self._bucket(budget)
        with self._lock:
            decision = bucket.put_decision(RateItem(budget.bucket_name, now_ms))
            self._leak_now_and_then(budget, bucket, now_ms)
        if decision.allowed:
            return 0
        return max(1, decision.retry_after_ms or max(rate.interval for rate in budget.rates))

    def used(self, budget: Budget, now_ms: int) -> list[int]:
        """Return how many requests each window of ``budget`` counts at ``now_ms``."""
        bucket = self._bucket(budget)
        counts = []
        with self._lock:
            for rate in bucket.rates:
                cursor = self._conn.execute(
                    f"SELECT COUNT(*) FROM '{bucket.table}' WHERE item_timestamp >= ?",
                    (now_ms - rate.interval,),
                )
                counts.append(cursor.fetchone()[0])
                cursor.close()
        return counts

    def slot_wait(self, budget: Budget, now_ms: int) -> int:
        """Return the milliseconds until ``budget`` has room for one more request."""
        bucket = self._bucket(budget)
        with self._lock:
            return slot_wait_ms(bucket, self.used(budget, now_ms), now_ms)

    def blocked_until(self, scope: str) -> float:
        with self._lock:
            row = self._conn.execute("SELECT until FROM blocks WHERE scope = ?", (scope,))
            found = row.fetchone()
            row.close()
        return found[0] if found else 0.0

    def block(self, scope: str, until: float, now: float) -> None:
        """Record that nothing may be sent to ``scope`` before ``until``; a later
        time already stored is kept. ``now`` is unused here (Redis needs it)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO blocks (scope, until) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE"
                " SET until = max(until, excluded.until)",
                (scope, until),
            )
            self._conn.commit()

    def record_server_state(self, scope: str, state: ServerState) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO server_state VALUES (?, ?, ?, ?, ?)",
                (scope, state.remaining, state.limit, state.reset_at, state.updated_at),
            )
            self._conn.commit()

    def server_state(self, scope: str) -> ServerState | None:
        with self._lock:
            cursor = self._conn.execute(
                "SELECT remaining, rate_limit, reset_at, updated_at FROM server_state"
                " WHERE scope = ?",
                (scope,),
            )
            row = cursor.fetchone()
            cursor.close()
        return ServerState(*row) if row else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _bucket(self, budget: Budget) -> _TransactionalSQLiteBucket:
        name = budget.bucket_name
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                table = "rate_" + "".join(c if c.isalnum() else "_" for c in name)
                self._conn.execute(SQLiteQueries.CREATE_BUCKET_TABLE.format(table=table))
                self._conn.execute(
                    SQLiteQueries.CREATE_INDEX_ON_TIMESTAMP.format(
                        index_name=f"idx_{table}", table_name=table
                    )
                )
                self._conn.commit()
                bucket = _TransactionalSQLiteBucket(
                    list(budget.rates), self._conn, table, lock=self._lock
                )
                self._buckets[name] = bucket
            return bucket

    def _leak_now_and_then(self, budget: Budget, bucket: SQLiteBucket, now_ms: int) -> None:
        if now_ms - self._last_leak.get(budget.bucket_name, 0) >= LEAK_INTERVAL_MS:
            bucket.leak(now_ms)
            self._last_leak[budget.bucket_name] = now_ms


def slot_wait_ms(bucket, counts: list[int], now_ms: int) -> int:
    """Return the milliseconds until every window of ``bucket`` has room for one more
    request, from the entry whose expiry makes that room (as pyrate-limiter's
    sliding-window log computes it)."""
    wait = 0
    for rate, count in zip(bucket.rates, counts, strict=True):
        if count < rate.limit:
            continue
        blocking = bucket.peek(rate.limit - 1)
        if blocking is not None:
            wait = max(wait, blocking.timestamp + rate.interval - now_ms + 1)
    return wait


class RateGate:
    """Checks each request to one platform's API host against the shared budget and
    stores the rate-limit signals of its response.

    Requests to other hosts, such as pre-signed storage URLs, are neither counted nor
    held back.
    """

    def __init__(self, platform: PlatformSettings, settings: Settings, clock: Clock = time.time):
        parts = urlsplit(platform.base_url)
        self.platform = platform
        self.settings = settings
        self.clock = clock
        self._api_host = parts.netloc
        self._base_path = parts.path.rstrip("/")

    def budget_for(self, request: requests.PreparedRequest) -> Budget | None:
        parts = urlsplit(request.url)
        if not self._api_host or parts.netloc != self._api_host:
            return None
        path = parts.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        resource = resource_for(self.platform.platform_id, path)
        return budget_for(self.platform, resource, "Authorization" in request.headers)

    def before_send(self, request: requests.PreparedRequest) -> None:
        """Raise ``BudgetWait`` unless the request may be sent now; spend budget if so."""
        budget = self.budget_for(request)
        if budget is None:
            return
        now = self.clock()
        store = store_for(self.settings)
        until = store.blocked_until(budget.scope)
        if until > now:
            raise BudgetWait(until - now, budget, "server")
        if not budget.rates:
            return
        wait_ms = store.acquire(budget, int(now * 1000))
        if wait_ms:
            raise BudgetWait(wait_ms / 1000.0, budget, "budget")

    def after_response(self, request: requests.PreparedRequest, response) -> None:
        budget = self.budget_for(request)
        if budget is None:
            return
        now = self.clock()
        state = ServerState.from_response(response, now)
        store = store_for(self.settings)
        if state is not None:
            store.record_server_state(budget.scope, state)
        wait = server_wait(response, now)
        if wait:
            store.block(budget.scope, now + wait, now)
            log.info(
                "platform=%s resource=%s blocked status=%s wait_s=%.1f",
                budget.platform_id,
                budget.resource,
                response.status_code,
                wait,
            )


class RateLimitedAdapter(HTTPAdapter):
    """A transport adapter that checks each request with a ``RateGate`` before it
    leaves and passes it each response, redirects included."""

    def __init__(self, gate: RateGate, **kwargs):
        super().__init__(**kwargs)
        self.gate = gate

    def send(self, request, **kwargs):
        self.gate.before_send(request)
        response = super().send(request, **kwargs)
        self.gate.after_response(request, response)
        return response


# A process normally uses one data folder, so one store. Test runs create many; the
# least recently used store is closed beyond this number to release its file handles.
MAX_OPEN_STORES = 4

_stores: OrderedDict[tuple[str, str], object] = OrderedDict()
_stores_lock = threading.Lock()


def store_for(settings: Settings):
    """Return the process-wide rate store for ``settings``: Redis when a studio URL is
    set, else SQLite in ``data_dir``.

    NOTE: a store closed for exceeding ``MAX_OPEN_STORES`` fails a request that
    fetched it just before. Only a process that uses more than that many data folders
    at once can see this.
    """
    from . import studio

    url = studio.redis_url(settings)
    key = ("redis", url) if url else ("sqlite", _resolved(str(settings.data_dir)))
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            if url:
                store = studio.RedisRateStore(studio.connect(url))
            else:
                store = SqliteRateStore(Path(settings.data_dir) / RATE_DB_NAME)
            _stores[key] = store
            while len(_stores) > MAX_OPEN_STORES:
                _stores.popitem(last=False)[1].close()
        _stores.move_to_end(key)
        return store


@functools.lru_cache(maxsize=64)
def _resolved(folder: str) -> str:
    return str(Path(folder).resolve())


def close_stores() -> None:
    """Close every rate store of this process, for example when the add-on is disabled."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
