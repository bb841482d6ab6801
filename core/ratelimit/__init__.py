"""Rate budgets per platform, shared by every thread and persisted between runs.

Each platform has local windows (requests per hour, and for GitHub per minute for
search), counted with pyrate-limiter's sliding-window buckets in SQLite under the data
folder, or in Redis for a studio. The server's own signals win over the local count:
a 429, a 403 with ``X-RateLimit-Remaining: 0``, ``Retry-After`` and
``X-RateLimit-Reset`` set a "blocked until" time per platform (per resource for
GitHub's search limits) that every thread and process reads before sending.

The check runs inside the transport adapter (``RateLimitedAdapter``), below the
response cache, so a response served from the cache spends no budget.

The code is split into ``signals`` (the server's rate-limit headers and waits),
``budgets`` (the local windows of each platform resource), ``sqlite_store`` (the
SQLite store and its buckets), ``stores`` (the process-wide store, SQLite or Redis)
and ``gate`` (``RateGate`` and ``RateLimitedAdapter``). This package re-exports the
public names that other modules use.
"""

from .budgets import (
    GITHUB_ANONYMOUS_PER_HOUR,
    GITHUB_CODE_SEARCH_PER_MINUTE,
    GITHUB_SEARCH_PER_MINUTE,
    Budget,
    BudgetWait,
    budget_for,
)
from .gate import RateGate, RateLimitedAdapter
from .signals import (
    ServerState,
    describe_wait,
    is_rate_limited,
    parse_retry_after,
    rate_limit_wait,
)
from .sqlite_store import LEAK_INTERVAL_MS, enable_wal, slot_wait_ms
from .stores import close_stores, store_for

__all__ = [
    "GITHUB_ANONYMOUS_PER_HOUR",
    "GITHUB_CODE_SEARCH_PER_MINUTE",
    "GITHUB_SEARCH_PER_MINUTE",
    "LEAK_INTERVAL_MS",
    "Budget",
    "BudgetWait",
    "RateGate",
    "RateLimitedAdapter",
    "ServerState",
    "budget_for",
    "close_stores",
    "describe_wait",
    "enable_wal",
    "is_rate_limited",
    "parse_retry_after",
    "rate_limit_wait",
    "slot_wait_ms",
    "store_for",
]
