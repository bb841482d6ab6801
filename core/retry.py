"""Retry policy: which failures to retry and how long to wait, as pure functions."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import requests

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def is_transient_error(error: BaseException) -> bool:
    """Return whether a failed send may succeed when repeated: a refused, reset or
    timed-out connection. TLS failures never fix themselves, so they are not retried."""
    if isinstance(error, requests.exceptions.SSLError):
        return False
    return isinstance(error, (requests.ConnectionError, requests.Timeout))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total time.

    ``random`` is injectable so tests can fix the jitter.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    total_budget: float = 60.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def backoff_ceiling(self, attempt: int) -> float:
        """Return the upper bound of the wait after failed attempt ``attempt`` (1-based)."""
        return min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))

    def backoff(self, attempt: int) -> float:
        return self.random() * self.backoff_ceiling(attempt)

    def should_retry_status(self, method: str, status: int) -> bool:
        return method.upper() in IDEMPOTENT_METHODS and status in RETRYABLE_STATUS

    def should_retry_exception(self, method: str) -> bool:
        return method.upper() in IDEMPOTENT_METHODS

    def remaining(self, elapsed: float) -> float:
        """Return the seconds left of the total time budget after ``elapsed`` seconds."""
        return max(0.0, self.total_budget - elapsed)

    def next_wait(
        self, attempt: int, elapsed: float, retry_after: float | None = None
    ) -> float | None:
        """Return seconds to wait before the next attempt, or None when the attempts
        or the time budget are spent. A server's ``Retry-After`` replaces the backoff."""
        if attempt >= self.max_attempts:
            return None
        wait = retry_after if retry_after is not None else self.backoff(attempt)
        if elapsed + wait > self.total_budget:
            return None
        return wait
