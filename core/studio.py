"""The studio backend: one Redis server shared by every machine of a studio.

When ``MESHPORT_REDIS_URL`` or ``Settings.redis_url`` names a Redis server, the
response cache and the rate budgets live there, so machines that use the same key
share one budget and one cache. Without it, both stay in SQLite under the data folder.
"""

from __future__ import annotations

import logging
import os
import threading

import redis
from pyrate_limiter import RedisBucket

from .config import Settings
from .errors import ConfigurationError, NetworkError
from .ratelimit import LEAK_INTERVAL_MS, Budget, ServerState, slot_wait_ms
from .ratelimit.sqlite_store import BucketRateStore
from .redact import redact_url

log = logging.getLogger(__name__)

REDIS_URL_VARIABLE = "MESHPORT_REDIS_URL"
KEY_PREFIX = "meshport"
CACHE_NAMESPACE = f"{KEY_PREFIX}:http_cache"

# Keeps the later of the stored and the new "blocked until" time, in one step, and
# lets the key expire once the wait is over.
_BLOCK_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0
"""

_connections: dict[str, redis.Redis] = {}
_connections_lock = threading.Lock()


def redis_url(settings: Settings) -> str | None:
    """Return the studio Redis URL: ``MESHPORT_REDIS_URL``, else the setting, else None."""
    from_env = os.environ.get(REDIS_URL_VARIABLE, "").strip()
    if from_env:
        return from_env
    return (settings.redis_url or "").strip() or None


def connect(url: str) -> redis.Redis:
    """Return the process-wide client for ``url``, checked with a PING.

    Raises ``ConfigurationError`` for an invalid URL and ``NetworkError`` when the
    server does not respond. The URL may contain a password, so messages show it
    redacted.
    """
    with _connections_lock:
        client = _connections.get(url)
        if client is not None:
            return client
        redacted = redact_url(url)
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        except ValueError as error:
            raise ConfigurationError(
                f"The studio Redis URL {redacted} is invalid ({error}). Use the form "
                "redis://host:6379/0."
            ) from None
        try:
            client.ping()
        except redis.RedisError as error:
            raise NetworkError(
                f"The studio Redis server at {redacted} did not respond ({type(error).__name__}). "
                f"Start it, or clear {REDIS_URL_VARIABLE} and the Redis URL in preferences "
                "to use the local cache and budget."
            ) from None
        log.info("studio backend: Redis at %s", redacted)
        _connections[url] = client
        return client


def close_connections() -> None:
    with _connections_lock:
        for client in _connections.values():
            client.close()
        _connections.clear()


class RedisRateStore(BucketRateStore):
    """Budgets, server waits and server state in Redis, with the same methods as
    ``ratelimit.sqlite_store.SqliteRateStore``.

    Budgets use pyrate-limiter's Redis bucket, whose check and insert run as one Lua
    script, so any number of machines can take from one budget. Timestamps are each
    machine's wall clock, so the machines' clocks must agree (NTP).
    """

    def __init__(self, client: redis.Redis):
        self.client = client
        self._lock = threading.RLock()
        self._buckets: dict[str, RedisBucket] = {}
        self._last_leak: dict[str, int] = {}
        self._block = client.register_script(_BLOCK_SCRIPT)

    def used(self, budget: Budget, now_ms: int) -> list[int]:
        key = self._bucket_key(budget)
        return [
            int(self.client.zcount(key, now_ms - rate.interval, "+inf"))
            for rate in self._bucket(budget).rates
        ]

    def slot_wait(self, budget: Budget, now_ms: int) -> int:
        return slot_wait_ms(self._bucket(budget), self.used(budget, now_ms), now_ms)

    def blocked_until(self, scope: str) -> float:
        value = self.client.get(f"{KEY_PREFIX}:blocked:{scope}")
        return float(value) if value is not None else 0.0

    def block(self, scope: str, until: float, now: float) -> None:
        expire_ms = max(1000, int((until - now) * 1000) + 1000)
        self._block(keys=[f"{KEY_PREFIX}:blocked:{scope}"], args=[repr(until), expire_ms])

    def record_server_state(self, scope: str, state: ServerState) -> None:
        values = {
            "remaining": "" if state.remaining is None else state.remaining,
            "limit": "" if state.limit is None else state.limit,
            "reset_at": "" if state.reset_at is None else state.reset_at,
            "updated_at": state.updated_at,
        }
        self.client.hset(f"{KEY_PREFIX}:server_state:{scope}", mapping=values)

    def server_state(self, scope: str) -> ServerState | None:
        values = self.client.hgetall(f"{KEY_PREFIX}:server_state:{scope}")
        if not values:
            return None
        decoded = {key.decode(): value.decode() for key, value in values.items()}
        return ServerState(
            remaining=int(decoded["remaining"]) if decoded["remaining"] else None,
            limit=int(decoded["limit"]) if decoded["limit"] else None,
            reset_at=float(decoded["reset_at"]) if decoded["reset_at"] else None,
            updated_at=float(decoded["updated_at"]),
        )

    def close(self) -> None:
        """Forget the buckets; the client belongs to ``connect`` and stays open."""
        with self._lock:
            self._buckets.clear()

    @staticmethod
    def _bucket_key(budget: Budget) -> str:
        return f"{KEY_PREFIX}:rate:{budget.bucket_name}"

    def _bucket(self, budget: Budget) -> RedisBucket:
        with self._lock:
            bucket = self._buckets.get(budget.bucket_name)
            if bucket is None:
                bucket = RedisBucket.init(list(budget.rates), self.client, self._bucket_key(budget))
                self._buckets[budget.bucket_name] = bucket
            return bucket

    def _leak_now_and_then(self, budget: Budget, bucket: RedisBucket, now_ms: int) -> None:
        if now_ms - self._last_leak.get(budget.bucket_name, 0) < LEAK_INTERVAL_MS:
            return
        bucket.leak(now_ms)
        longest = max(rate.interval for rate in budget.rates)
        self.client.pexpire(self._bucket_key(budget), 2 * longest)
        self._last_leak[budget.bucket_name] = now_ms
