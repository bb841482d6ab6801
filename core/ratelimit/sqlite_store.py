"""The SQLite rate store: pyrate-limiter buckets, server waits and server state in one
file that threads and processes share."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from pyrate_limiter import RateItem, SQLiteBucket, SQLiteQueries

from .budgets import Budget
from .signals import ServerState

log = logging.getLogger(__name__)

# Expired entries are deleted from a bucket at most this often (milliseconds).
LEAK_INTERVAL_MS = 60_000


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


class BucketRateStore:
    """The part of a rate store that takes requests from pyrate-limiter buckets.
    Subclasses provide ``_lock``, ``_bucket(budget)`` and ``_leak_now_and_then``."""

    def acquire(self, budget: Budget, now_ms: int) -> int:
        """Take one request from ``budget``; return 0, or the milliseconds to wait."""
        bucket = self._bucket(budget)
        # The bucket keeps the last verdict on itself, so threads take turns.
        with self._lock:
            decision = bucket.put_decision(RateItem(budget.bucket_name, now_ms))
            self._leak_now_and_then(budget, bucket, now_ms)
        if decision.allowed:
            return 0
        return max(1, decision.retry_after_ms or max(rate.interval for rate in budget.rates))


class SqliteRateStore(BucketRateStore):
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
