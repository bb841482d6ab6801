"""One HTTP client per platform: session, auth, timeouts, retries and error mapping.

Every request a platform client sends goes through ``PlatformHttp.request``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit

import requests

from . import errors
from .config import PlatformSettings, Settings
from .redact import redact_url
from .retry import RetryPolicy
from .version import USER_AGENT

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]


class HostBoundAuth(requests.auth.AuthBase):
    """Adds the Authorization header only to requests for the platform's own host,
    so a pre-signed storage URL or a redirect elsewhere never receives the key."""

    def __init__(self, host: str, header_value: str):
        self.host = host
        self._header_value = header_value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(request.url).netloc == self.host:
            request.headers["Authorization"] = self._header_value
        return request

    def __repr__(self) -> str:
        return f"HostBoundAuth(host={self.host!r}, header='***')"


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
    """Return how long the server asked us to wait, from Retry-After or X-RateLimit-Reset."""
    wait = parse_retry_after(response.headers.get("Retry-After"), now)
    if wait is not None:
        return wait
    reset = response.headers.get("X-RateLimit-Reset")
    if reset and reset.isdigit():
        now = time.time() if now is None else now
        return max(0.0, float(reset) - now + 1.0)
    return None


def is_rate_limited(response: requests.Response) -> bool:
    if response.status_code == 429:
        return True
    return response.status_code == 403 and response.headers.get("X-RateLimit-Remaining") == "0"


def error_detail(response: requests.Response) -> str:
    """Return the server's own short explanation, if the body has one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for name in ("detail", "message", "error"):
            if isinstance(body.get(name), str):
                return body[name][:200]
    return ""


def describe_wait(seconds: float | None) -> str:
    if seconds is None:
        return "try again in a minute"
    return f"next request in {max(1, round(seconds))} s"


def error_for_response(
    response: requests.Response,
    platform_label: str,
    platform_id: str,
    messages: Mapping[int, str] | None = None,
) -> errors.MeshportError:
    """Map an HTTP error answer to the exception an artist can act on.

    ``messages`` lets a platform give its own wording for a status, for example
    Sketchfab's 400 on ``/download`` meaning "not downloadable".
    """
    status = response.status_code
    detail = error_detail(response)
    suffix = f" ({detail})" if detail else ""
    custom = (messages or {}).get(status)
    kwargs = {"platform": platform_id, "status": status}

    if is_rate_limited(response):
        wait = rate_limit_wait(response)
        return errors.RateLimitedError(
            f"{platform_label}: rate limited, {describe_wait(wait)}.", retry_after=wait, **kwargs
        )
    if custom:
        cls = errors.NotDownloadableError if status == 400 else _class_for_status(status)
        return cls(f"{platform_label}: {custom}{suffix}", **kwargs)
    if status == 401:
        return errors.AuthenticationError(
            f"{platform_label}: the API key was rejected (HTTP 401){suffix}. "
            "Check the key in Meshport's preferences.",
            **kwargs,
        )
    if status == 403:
        return errors.AccessDeniedError(
            f"{platform_label}: access denied (HTTP 403){suffix}.", **kwargs
        )
    if status == 404:
        return errors.NotFoundError(f"{platform_label}: not found (HTTP 404){suffix}.", **kwargs)
    if status >= 500:
        return errors.PlatformUnavailableError(
            f"{platform_label} is unavailable (HTTP {status}); try again later.", **kwargs
        )
    return errors.MeshportError(
        f"{platform_label}: request failed with HTTP {status}{suffix}.", **kwargs
    )


def _class_for_status(status: int) -> type[errors.MeshportError]:
    return {
        401: errors.AuthenticationError,
        403: errors.AccessDeniedError,
        404: errors.NotFoundError,
    }.get(status, errors.MeshportError)


class PlatformHttp:
    """A ``requests.Session`` for one platform with its key, timeouts and retries."""

    def __init__(
        self,
        platform: PlatformSettings,
        settings: Settings,
        *,
        label: str,
        auth_scheme: str | None = "Token",
        retry_policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        extra_headers: Mapping[str, str] | None = None,
    ):
        self.platform_id = platform.platform_id
        self.label = label
        self.base_url = platform.base_url.rstrip("/")
        self.settings = settings
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.retry_policy = retry_policy or RetryPolicy(total_budget=settings.retry_budget_seconds)
        self._sleep = sleep
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(extra_headers or {})
        self._key = platform.key
        if platform.key and auth_scheme:
            host = urlsplit(self.base_url).netloc
            self.session.auth = HostBoundAuth(host, f"{auth_scheme} {platform.key.reveal()}")

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url + "/", path_or_url.lstrip("/"))

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        authenticated: bool = True,
        error_messages: Mapping[int, str] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request with retries and return a 2xx or 3xx response.

        Raises ``OfflineError`` when online access is off, ``NetworkError`` when no
        answer arrived, and the mapped ``MeshportError`` for an HTTP error status.
        """
        if not self.settings.online_access:
            raise errors.OfflineError(
                f"{self.label}: online access is off. Turn on \"Allow Online Access\" "
                "in Blender's System preferences to search and download.",
                platform=self.platform_id,
            )
        url = self.url(path_or_url)
        kwargs.setdefault("timeout", self.timeout)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send_once(
                    method, url, params, headers, stream, authenticated, attempt, kwargs
                )
            except requests.RequestException as error:
                wait = self._wait_after_exception(method, attempt, started, error, url)
                if wait is None:
                    raise self._network_error(error, url) from error
            else:
                if response.status_code < 400:
                    return response
                wait = self._wait_after_status(method, attempt, started, response, url)
                if wait is None:
                    mapped = error_for_response(
                        response, self.label, self.platform_id, error_messages
                    )
                    response.close()
                    raise mapped
                response.close()
            if should_cancel and should_cancel():
                raise errors.JobCancelledError(f"{self.label}: cancelled.")
            self._sleep(wait)

    def get_json(self, path_or_url: str, **kwargs: Any) -> Any:
        response = self.request("GET", path_or_url, **kwargs)
        try:
            return response.json()
        except ValueError as error:
            raise errors.ResponseFormatError(
                f"{self.label}: the answer from {redact_url(response.url)} is not JSON "
                f"(Content-Type {response.headers.get('Content-Type', 'missing')}).",
                platform=self.platform_id,
                status=response.status_code,
            ) from error

    def _send_once(self, method, url, params, headers, stream, authenticated, attempt, kwargs):
        request_started = time.monotonic()
        auth = None if authenticated else _NoAuth()
        response = self.session.request(
            method,
            url,
            params=params,
            headers=headers,
            stream=stream,
            auth=auth,
            **kwargs,
        )
        log.info(
            "platform=%s method=%s url=%s status=%s duration_ms=%d attempt=%d",
            self.platform_id,
            method,
            redact_url(response.url),
            response.status_code,
            (time.monotonic() - request_started) * 1000,
            attempt,
        )
        return response

    def _wait_after_status(self, method, attempt, started, response, url) -> float | None:
        if not (self.retry_policy.should_retry_status(method, response.status_code)
                or is_rate_limited(response)):
            return None
        retry_after = rate_limit_wait(response) if is_rate_limited(response) else None
        wait = self.retry_policy.next_wait(attempt, time.monotonic() - started, retry_after)
        if wait is not None:
            log.info(
                "platform=%s retry method=%s url=%s status=%s attempt=%d wait_s=%.2f",
                self.platform_id, method, redact_url(url), response.status_code, attempt, wait,
            )
        return wait

    def _wait_after_exception(self, method, attempt, started, error, url) -> float | None:
        if isinstance(error, requests.exceptions.SSLError):
            return None
        if not isinstance(error, (requests.ConnectionError, requests.Timeout)):
            return None
        if not self.retry_policy.should_retry_exception(method):
            return None
        wait = self.retry_policy.next_wait(attempt, time.monotonic() - started)
        if wait is not None:
            log.info(
                "platform=%s retry method=%s url=%s error=%s attempt=%d wait_s=%.2f",
                self.platform_id, method, redact_url(url), type(error).__name__, attempt, wait,
            )
        return wait

    def _network_error(self, error: requests.RequestException, url: str) -> errors.MeshportError:
        host = urlsplit(url).netloc
        if isinstance(error, requests.exceptions.SSLError):
            return errors.NetworkError(
                f"{self.label}: the TLS certificate of {host} could not be verified. "
                "Check the system clock and any proxy that inspects HTTPS.",
                platform=self.platform_id,
            )
        if isinstance(error, requests.exceptions.ProxyError):
            return errors.NetworkError(
                f"{self.label}: the proxy refused the connection to {host}. "
                "Check HTTPS_PROXY.",
                platform=self.platform_id,
            )
        if isinstance(error, requests.Timeout):
            return errors.NetworkError(
                f"{self.label}: {host} did not answer in time. Check the connection "
                "and try again.",
                platform=self.platform_id,
            )
        return errors.NetworkError(
            f"{self.label}: cannot reach {host} ({type(error).__name__}). Check the "
            "connection and try again.",
            platform=self.platform_id,
        )


class _NoAuth(requests.auth.AuthBase):
    """Sends a request without the session's Authorization header."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request
