"""The local rate windows of each platform resource and credential, and the wait that
the adapter raises when a window is full."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyrate_limiter import Duration, Rate

from ..config import DEFAULT_RATE_PER_HOUR, PlatformSettings

log = logging.getLogger(__name__)

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
