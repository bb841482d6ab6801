"""Health per platform: success rate, latency, remaining budget and the last error.

``snapshot`` reads the audit log and the rate store, so it describes every process
that shares the data folder, and serves both the Status panel and
``bin/meshport status --json``. ``status_text`` is the one-line rate-limit state the
panel shows next to a platform.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pyrate_limiter import Duration, Rate

from . import audit, response_cache, studio
from .config import Settings
from .errors import MeshportError
from .ratelimit import Budget, ServerState, budget_for, describe_wait, store_for

# The newest audit records read per snapshot; statistics cover these only.
RECENT_RECORDS = 2000


@dataclass(frozen=True)
class BudgetStatus:
    """The state of one platform resource's budget at one moment."""

    scope: str
    windows: tuple[tuple[Rate, int], ...]
    wait_seconds: float
    server: ServerState | None

    def to_dict(self) -> dict:
        windows = [
            {
                "limit": rate.limit,
                "interval_s": rate.interval / 1000,
                "used": used,
                "remaining": max(0, rate.limit - used),
            }
            for rate, used in self.windows
        ]
        server = None
        if self.server is not None:
            server = {
                "remaining": self.server.remaining,
                "limit": self.server.limit,
                "reset_at": self.server.reset_at,
            }
        return {"windows": windows, "wait_s": round(self.wait_seconds, 1), "server": server}


def budget_status(
    settings: Settings, platform_id: str, now: float | None = None
) -> dict[str, BudgetStatus]:
    """Return the budget state of each resource of a platform, keyed by resource."""
    now = time.time() if now is None else now
    platform = settings.platform(platform_id)
    store = store_for(settings)
    resources = ("core", "search", "code_search") if platform_id == "github" else ("core",)
    statuses = {}
    for resource in resources:
        budget = budget_for(platform, resource, authenticated=bool(platform.key))
        statuses[resource] = _status_of(store, budget, now)
    return statuses


def _status_of(store, budget: Budget, now: float) -> BudgetStatus:
    now_ms = int(now * 1000)
    wait = max(0.0, store.blocked_until(budget.scope) - now)
    windows: tuple[tuple[Rate, int], ...] = ()
    if budget.rates:
        windows = tuple(zip(budget.rates, store.used(budget, now_ms), strict=True))
        wait = max(wait, store.slot_wait(budget, now_ms) / 1000.0)
    return BudgetStatus(budget.scope, windows, wait, store.server_state(budget.scope))


def status_text(
    settings: Settings, platform_id: str, label: str | None = None, now: float | None = None
) -> str:
    """Return one line for the panel: the wait when rate limited, else the requests
    left in the platform's main window. The line is empty for a platform without a
    budget."""
    label = label or platform_id
    now = time.time() if now is None else now
    statuses = budget_status(settings, platform_id, now)
    wait = max(status.wait_seconds for status in statuses.values())
    if wait > 0:
        return f"{label}: rate limited, {describe_wait(wait)}"
    core = statuses["core"]
    if not core.windows:
        return ""
    rate, used = core.windows[-1]
    remaining, limit = rate.limit - used, rate.limit
    if _server_reports_fewer(core.server, remaining, now):
        remaining, limit = core.server.remaining, core.server.limit or limit
    return f"{label}: {remaining} of {limit} requests left per {_interval_name(rate)}"


def _server_reports_fewer(server: ServerState | None, remaining: int, now: float) -> bool:
    """Return whether the platform's own count, still valid before its reset, is
    lower than the local one."""
    if server is None or server.remaining is None:
        return False
    if server.reset_at is not None and server.reset_at <= now:
        return False
    return server.remaining < remaining


def _interval_name(rate: Rate) -> str:
    names = {Duration.HOUR.value: "hour", Duration.MINUTE.value: "minute"}
    return names.get(rate.interval, f"{math.ceil(rate.interval / 1000)} s")


def snapshot(settings: Settings, now: float | None = None) -> dict:
    """Return the health of every platform as a JSON-ready dict.

    Success rate and latency count requests that reached the network among the
    newest ``RECENT_RECORDS`` audit records. Responses served from the cache are
    counted under ``cache`` only. A part that cannot be read (for example an unreachable
    studio Redis) is reported as ``{"error": message}`` in its place.
    """
    now = time.time() if now is None else now
    records = audit.read_recent(audit.audit_path(settings), RECENT_RECORDS)
    platform_ids = sorted(
        set(settings.platforms) | {record.get("platform") for record in records} - {None}
    )
    platforms = {}
    for platform_id in platform_ids:
        own = [record for record in records if record.get("platform") == platform_id]
        platforms[platform_id] = _platform_health(settings, platform_id, own, now)
    return {
        "generated_at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
        "audit_log": str(audit.audit_path(settings)),
        "backend": "redis" if studio.redis_url(settings) else "sqlite",
        "cache": _guarded(lambda: _cache_size(settings)),
        "platforms": platforms,
    }


def _platform_health(settings: Settings, platform_id: str, records: list[dict], now: float) -> dict:
    sent = [record for record in records if record.get("cache") != "hit"]
    succeeded = [record for record in sent if _succeeded(record)]
    latencies = sorted(record["duration_ms"] for record in sent)
    health = {
        "requests": len(sent),
        "success_rate": round(len(succeeded) / len(sent), 4) if sent else None,
        "latency_ms": {"median": _median(latencies), "p95": _percentile(latencies, 0.95)},
        "cache": _cache_counts(records),
        "last_error": _last_error(sent),
    }
    if platform_id in settings.platforms:
        health["budget"] = _guarded(
            lambda: {
                resource: status.to_dict()
                for resource, status in budget_status(settings, platform_id, now).items()
            }
        )
        health["rate_limit"] = _guarded(lambda: status_text(settings, platform_id, now=now))
    return health


def _succeeded(record: dict) -> bool:
    status = record.get("status")
    return status is not None and status < 400


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Return the nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return round(sorted_values[rank - 1], 2)


def _cache_counts(records: list[dict]) -> dict[str, int]:
    counts = {"hit": 0, "miss": 0, "revalidated": 0}
    for record in records:
        if record.get("cache") in counts:
            counts[record["cache"]] += 1
    return counts


def _last_error(records: list[dict]) -> dict | None:
    for record in reversed(records):
        if not _succeeded(record):
            return {
                "time": record.get("time"),
                "status": record.get("status"),
                "error": record.get("error"),
                "url": record.get("url"),
            }
    return None


def _cache_size(settings: Settings) -> dict:
    size = response_cache.size(settings)
    return {"entries": size.entries, "bytes": size.bytes}


def _guarded(build):
    try:
        return build()
    except MeshportError as error:
        return {"error": error.message}
