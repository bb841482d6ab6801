"""One HTTP client per platform: the request pipeline every platform client uses.

``PlatformHttp.request`` runs each request through these steps:

1. Refuse at once when online access is off.
2. The response cache (``core.response_cache``) returns a fresh entry without
   sending anything, and revalidates a stale one with a conditional request.
3. The transport adapter checks the shared rate budget and any wait the platform
   requested (``core.ratelimit``). A wait runs on the calling worker thread, and a
   wait longer than the retry budget fails at once with ``RateLimitedError``.
4. Connection errors, timeouts, 429, 502, 503 and 504 are retried with backoff
   (``core.retry``).
5. Every attempt is written to the audit log (``core.audit``), and an HTTP error
   is mapped to the exception an artist can act on (``error_for_response``).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit

import requests

from . import (
    audit,
    credentials,
    deprecation,
    errors,
    oauth,
    response_cache,
    tls,
    tokens,
)
from .config import PlatformSettings, Settings, key_place
from .ratelimit import (
    BudgetWait,
    RateGate,
    RateLimitedAdapter,
    describe_wait,
    is_rate_limited,
    parse_retry_after,
    rate_limit_wait,
)
from .redact import redact_url
from .retry import RetryPolicy, is_transient_error
from .version import USER_AGENT

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]
Clock = Callable[[], float]

# How often a wait checks ``should_cancel``, in seconds.
CANCEL_CHECK_INTERVAL = 0.25


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


def error_detail(response: requests.Response) -> str:
    """Return the server's own short explanation, if the body has one."""
    try:
        body = response.json()
    except (ValueError, requests.RequestException):
        # A body that is not JSON, or whose reading broke off, has no detail to give.
        return ""
    if isinstance(body, dict):
        for name in ("detail", "message", "error"):
            if isinstance(body.get(name), str):
                return body[name][:200]
    return ""


def error_for_response(
    response: requests.Response,
    platform_label: str,
    platform_id: str,
    messages: Mapping[int, str] | None = None,
    now: float | None = None,
) -> errors.MeshportError:
    """Map an HTTP error response to the exception an artist can act on.

    ``messages`` lets a platform give its own wording for a status, for example
    Sketchfab's 400 on ``/download`` meaning "not downloadable". ``now`` (epoch
    seconds, default the system clock) dates the wait of a rate-limit response.
    """
    status = response.status_code
    detail = error_detail(response)
    suffix = f" ({detail})" if detail else ""
    custom = (messages or {}).get(status)
    kwargs = {"platform": platform_id, "status": status}

    if is_rate_limited(response):
        wait = rate_limit_wait(response, now)
        return errors.RateLimitedError(
            f"{platform_label}: rate limited, {describe_wait(wait)}.", retry_after=wait, **kwargs
        )
    if custom:
        cls = errors.NotDownloadableError if status == 400 else _class_for_status(status)
        return cls(f"{platform_label}: {custom}{suffix}", **kwargs)
    if status == 401:
        return errors.AuthenticationError(
            f"{platform_label}: the API key was rejected (HTTP 401){suffix}. "
            f"Check the key in {key_place(platform_id)}.",
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
    """A session for one platform with its key, timeouts, rate budget, response
    cache, retries and audit log.

    ``sleep`` and ``clock`` (epoch seconds) are injectable so tests can run waits
    without real time passing. With only ``sleep`` injected, the clock is the system
    clock plus the seconds slept.
    """

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
        clock: Clock = time.time,
    ):
        self.platform_id = platform.platform_id
        self.label = label
        self.base_url = platform.base_url.rstrip("/")
        self.settings = settings
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.retry_policy = retry_policy or RetryPolicy(total_budget=settings.retry_budget_seconds)
        if sleep is not time.sleep and clock is time.time:
            # An injected sleep takes no real time, so without this a wait for a
            # server's Retry-After would find the platform still blocked afterwards.
            clock = _SleepAdvancedClock(sleep)
            sleep = clock.sleep
        self._sleep = sleep
        self._clock = clock
        self.session = response_cache.build_session(settings)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(extra_headers or {})
        # 16 pooled connections per host: core.download runs up to 16 transfers at once.
        adapter = RateLimitedAdapter(RateGate(platform, settings, clock), pool_maxsize=16)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.trust = tls.apply_to_session(self.session, tls.choose_trust(settings.ca_bundle))
        self.session.hooks["response"].append(deprecation.response_hook(self.platform_id))
        self._key = platform.key
        self._token_manager = None
        if auth_scheme:
            self.session.auth = self._platform_auth(platform, auth_scheme)

    def _platform_auth(
        self, platform: PlatformSettings, auth_scheme: str
    ) -> requests.auth.AuthBase | None:
        """Return the auth for the platform's own host: its OAuth tokens when the user
        signed in, which renew themselves, else ``<auth_scheme> <key>``, else None."""
        host = urlsplit(self.base_url).netloc
        manager = self._signed_in_manager()
        if manager is not None:
            self._token_manager = manager
            log.info("platform=%s auth=oauth", self.platform_id)
            return tokens.BearerTokenAuth(manager, host)
        if platform.key:
            return HostBoundAuth(host, f"{auth_scheme} {platform.key.reveal()}")
        return None

    def _signed_in_manager(self) -> tokens.TokenManager | None:
        if self.platform_id not in oauth.ENDPOINT_PATHS:
            return None
        try:
            manager = credentials.token_manager(
                self.platform_id, ca_bundle=self.settings.ca_bundle
            )
            return manager if manager.signed_in() else None
        except errors.CredentialStoreError as error:
            log.warning(
                "platform=%s OAuth tokens not read, using the API key: %s",
                self.platform_id,
                error.message,
            )
            return None

    @property
    def has_key(self) -> bool:
        """Whether requests carry a credential: an API key or OAuth tokens."""
        return bool(self._key) or self._token_manager is not None

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
        cache_ttl: float | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request through the pipeline and return a 2xx or 3xx response.

        ``cache_ttl`` (whole seconds) lets the response to a GET be cached that long;
        without it nothing is cached. ``should_cancel`` is polled during every wait.

        Raises ``OfflineError`` when online access is off, ``RateLimitedError`` when
        the platform or the local budget requires a wait longer than the retry budget
        left, ``NetworkError`` when no response arrived, ``JobCancelledError`` when
        cancelled during a wait, and the mapped ``MeshportError`` for an HTTP error.
        """
        self._require_online()
        url = self.url(path_or_url)
        kwargs.setdefault("timeout", self.timeout)
        # requests lets REQUESTS_CA_BUNDLE override session.verify unless it is
        # passed per request.
        kwargs.setdefault("verify", self.trust.verify)
        # None leaves the session's default, which caches nothing.
        kwargs["expire_after"] = response_cache.expire_after(method, url, params, stream, cache_ttl)
        send_options = dict(
            params=params, headers=headers, stream=stream, authenticated=authenticated, **kwargs
        )
        started = self._clock()
        attempt = 1
        while True:
            try:
                response = self._send_once(method, url, attempt, **send_options)
            except BudgetWait as signal:
                wait = self._wait_for_budget(signal, started)
            except requests.RequestException as error:
                if should_cancel is not None and should_cancel():
                    # A cancel shut the connection down; that is not a network failure.
                    raise errors.JobCancelledError(f"{self.label}: cancelled.") from error
                wait = self._wait_after_exception(method, attempt, started, error, url)
                if wait is None:
                    raise self._network_error(error, url) from error
                attempt += 1
            else:
                if response.status_code < 400:
                    return response
                wait = self._wait_after_status(method, attempt, started, response, url)
                if wait is None:
                    raise self._mapped_error(response, error_messages)
                response.close()
                attempt += 1
            self._pause(wait, should_cancel)

    def get_json(self, path_or_url: str, **kwargs: Any) -> Any:
        """GET ``path_or_url`` and return the decoded JSON; takes ``request``'s keywords,
        ``cache_ttl`` among them."""
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

    def _require_online(self) -> None:
        if not self.settings.online_access:
            raise errors.OfflineError(
                f'{self.label}: online access is off. Turn on "Allow Online Access" '
                "in Blender's System preferences to search and download.",
                platform=self.platform_id,
            )

    def _send_once(self, method, url, attempt, *, authenticated, **options) -> requests.Response:
        """Send one attempt and write its audit line; a cache hit sends nothing."""
        auth = None if authenticated else _NoAuth()
        cached = options["expire_after"] is not None
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, auth=auth, **options)
        except requests.RequestException as error:
            sent_url = getattr(error.request, "url", None) or url
            self._write_audit(method, sent_url, attempt, started, None, None, "off", error)
            raise
        outcome = response_cache.cache_outcome(response, cached)
        response_cache.COUNTERS.add(self.platform_id, outcome)
        size = _body_size(response, options["stream"])
        self._write_audit(method, response.url, attempt, started, response, size, outcome)
        return response

    def _write_audit(self, method, url, attempt, started, response, size, outcome, error=None):
        duration = time.perf_counter() - started
        status = response.status_code if response is not None else None
        record = audit.AuditRecord.build(
            platform=self.platform_id,
            method=method,
            url=url,
            status=status,
            duration_s=duration,
            size=size,
            cache=outcome,
            attempt=attempt,
            error=type(error).__name__ if error is not None else None,
        )
        audit.audit_log_for(self.settings).write(record)
        log.info(
            "platform=%s method=%s url=%s status=%s duration_ms=%d attempt=%d cache=%s",
            self.platform_id,
            method,
            record.url,
            status,
            duration * 1000,
            attempt,
            outcome,
        )

    def _wait_for_budget(self, signal: BudgetWait, started: float) -> float:
        """Return the wait that ``signal`` carries, or raise ``RateLimitedError``
        when it is longer than the retry budget left."""
        left = self.retry_policy.remaining(self._clock() - started)
        if signal.seconds > left:
            raise self._rate_limited_error(signal)
        log.info(
            "platform=%s resource=%s waiting reason=%s wait_s=%.2f",
            self.platform_id,
            signal.budget.resource,
            signal.reason,
            signal.seconds,
        )
        return signal.seconds

    def _rate_limited_error(self, signal: BudgetWait) -> errors.RateLimitedError:
        message = f"{self.label}: rate limited, {describe_wait(signal.seconds)}."
        if signal.reason == "budget":
            rate = signal.budget.rates[0]
            message += (
                f" Meshport's budget of {rate.limit} requests per {rate.interval // 1000} s "
                f"for {self.label} is used up; it can be changed in the add-on preferences."
            )
        return errors.RateLimitedError(
            message, retry_after=signal.seconds, platform=self.platform_id
        )

    def _mapped_error(self, response, error_messages) -> errors.MeshportError:
        mapped = None
        if response.status_code in (401, 407):
            # Expired keys and proxy authentication get their own messages; a plain
            # 401 keeps the platform's wording.
            mapped = tls.classify_response(
                response, label=self.label, platform_id=self.platform_id, now=self._clock()
            )
            if type(mapped) is errors.AuthenticationError:
                mapped = None
        if mapped is None:
            mapped = error_for_response(
                response, self.label, self.platform_id, error_messages, now=self._clock()
            )
        response.close()
        return mapped

    def _pause(self, seconds: float, should_cancel: Callable[[], bool] | None) -> None:
        """Wait ``seconds`` on this thread and raise ``JobCancelledError`` as soon as
        ``should_cancel`` returns True.

        With the default ``time.sleep``, the wait runs in steps of
        ``CANCEL_CHECK_INTERVAL``, so a cancel takes effect quickly. An injected
        ``sleep`` receives each wait whole, with ``should_cancel`` checked before and
        after.
        """
        if should_cancel is not None and should_cancel():
            raise errors.JobCancelledError(f"{self.label}: cancelled.")
        if should_cancel is None or self._sleep is not time.sleep:
            self._sleep(seconds)
        else:
            self._sleep_in_steps(seconds, should_cancel)
        if should_cancel is not None and should_cancel():
            raise errors.JobCancelledError(f"{self.label}: cancelled.")

    @staticmethod
    def _sleep_in_steps(seconds: float, should_cancel: Callable[[], bool]) -> None:
        deadline = time.monotonic() + seconds
        while not should_cancel():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(CANCEL_CHECK_INTERVAL, left))

    def _wait_after_status(self, method, attempt, started, response, url) -> float | None:
        rate_limited = is_rate_limited(response)
        if not (
            rate_limited or self.retry_policy.should_retry_status(method, response.status_code)
        ):
            return None
        now = self._clock()
        if rate_limited:
            retry_after = rate_limit_wait(response, now)
        else:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        wait = self.retry_policy.next_wait(attempt, now - started, retry_after)
        if wait is not None:
            log.info(
                "platform=%s retry method=%s url=%s status=%s attempt=%d wait_s=%.2f",
                self.platform_id,
                method,
                redact_url(response.url or url),
                response.status_code,
                attempt,
                wait,
            )
        return wait

    def _wait_after_exception(self, method, attempt, started, error, url) -> float | None:
        if not is_transient_error(error) or not self.retry_policy.should_retry_exception(method):
            return None
        wait = self.retry_policy.next_wait(attempt, self._clock() - started)
        if wait is not None:
            log.info(
                "platform=%s retry method=%s url=%s error=%s attempt=%d wait_s=%.2f",
                self.platform_id,
                method,
                redact_url(getattr(error.request, "url", None) or url),
                type(error).__name__,
                attempt,
                wait,
            )
        return wait

    def _network_error(self, error: requests.RequestException, url: str) -> errors.MeshportError:
        return tls.classify_exception(error, label=self.label, platform_id=self.platform_id)


class _SleepAdvancedClock:
    """The system clock plus the seconds passed to an injected ``sleep``."""

    def __init__(self, sleep: Sleep):
        self._inner_sleep = sleep
        self._offset = 0.0

    def __call__(self) -> float:
        return time.time() + self._offset

    def sleep(self, seconds: float) -> None:
        self._inner_sleep(seconds)
        self._offset += seconds


class _NoAuth(requests.auth.AuthBase):
    """Sends a request without the session's Authorization header."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


def _body_size(response: requests.Response, stream: bool) -> int | None:
    """Return the body size in bytes; for a streamed body, its Content-Length if sent."""
    if stream:
        length = response.headers.get("Content-Length", "")
        return int(length) if length.isdigit() else None
    return len(response.content)
