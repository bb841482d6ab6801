"""The server's rate-limit signals: ``Retry-After``, the ``X-RateLimit-*`` headers, and
which responses ask every client to wait."""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass

import requests

log = logging.getLogger(__name__)

# The maximum wait a server can impose. Longer values (a garbled Retry-After, a reset
# centuries ahead) would block the platform until the state file is deleted.
MAX_SERVER_WAIT = 24 * 3600.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Parse ``Retry-After`` as seconds or an HTTP date; None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return _capped(float(value), "Retry-After")
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    now = time.time() if now is None else now
    return _capped(max(0.0, when.timestamp() - now), "Retry-After")


def rate_limit_wait(response: requests.Response, now: float | None = None) -> float | None:
    """Return the wait the server requested, from Retry-After or X-RateLimit-Reset.

    The reset is an epoch second whose exact moment within that second is unknown, so
    one second is added to it.
    """
    wait = parse_retry_after(response.headers.get("Retry-After"), now)
    if wait is not None:
        return wait
    reset = response.headers.get("X-RateLimit-Reset", "").strip()
    if reset.isascii() and reset.isdigit():
        now = time.time() if now is None else now
        return _capped(max(0.0, float(reset) - now + 1.0), "X-RateLimit-Reset")
    return None


def _capped(wait: float, header: str) -> float:
    if wait <= MAX_SERVER_WAIT:
        return wait
    if header not in _capped_headers:  # a capped value is parsed again on every check
        _capped_headers.add(header)
        log.warning(
            "%s requested a wait of more than %.0f s; waiting %.0f s, the maximum",
            header,
            MAX_SERVER_WAIT,
            MAX_SERVER_WAIT,
        )
    return MAX_SERVER_WAIT


_capped_headers: set[str] = set()


def is_rate_limited(response: requests.Response) -> bool:
    """Return whether ``response`` requests the client to slow down: 429, or a 403
    with no requests remaining or with ``Retry-After`` (GitHub's secondary rate
    limits)."""
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
    """Word a wait as "next request in 42 s", or in minutes or hours once it is long."""
    if seconds is None:
        return "try again in a minute"
    seconds = max(1, round(seconds))
    if seconds < 120:
        return f"next request in {seconds} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"next request in {minutes} min"
    return f"next request in {minutes // 60} h {minutes % 60} min"


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
