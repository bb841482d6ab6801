"""The device authorization grant (RFC 8628), as GitHub runs it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from .. import errors
from ..secrets import Secret
from ..tokens import TokenSet
from .grants import (
    DEFAULT_TIMEOUT,
    CancelCheck,
    Clock,
    OAuthClient,
    OAuthEndpoints,
    Sleep,
    endpoints_for,
    grant_error,
    required_client_id,
    wait_or_cancel,
)

log = logging.getLogger(__name__)

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8628 section 3.2: without an ``interval``, poll every 5 seconds; after
# ``slow_down``, poll 5 seconds more slowly.
DEFAULT_POLL_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0
# Connection failures in a row tolerated while polling, with the interval doubled
# after each (RFC 8628 section 3.5), up to this many seconds.
MAX_POLL_FAILURES = 3
MAX_POLL_INTERVAL = 60.0


@dataclass(frozen=True)
class DeviceCode:
    """A device authorization response (RFC 8628 section 3.2); show ``user_code`` and
    ``verification_uri`` to the user. Times are in seconds."""

    device_code: Secret = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float
    verification_uri_complete: str | None = None


class DeviceFlow(OAuthClient):
    """The device authorization grant for one OAuth app, GitHub's by default.

    ``sleep`` and ``clock`` (epoch seconds) are injectable, so tests run the polling
    without real waits.
    """

    def __init__(
        self,
        client_id: str,
        *,
        scope: str = "",
        endpoints: OAuthEndpoints | None = None,
        platform_id: str = "github",
        label: str | None = None,
        session: requests.Session | None = None,
        timeout=DEFAULT_TIMEOUT,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
    ):
        super().__init__(platform_id, label, session, timeout, clock)
        self.client_id = required_client_id(client_id, self.label, platform_id)
        self.scope = scope
        self.endpoints = endpoints or endpoints_for(platform_id)
        self._sleep = sleep

    def sign_in(
        self, show_code: Callable[[DeviceCode], None], *, should_cancel: CancelCheck | None = None
    ) -> TokenSet:
        """Request a device code, pass it to ``show_code``, and poll until the user
        approves; return the tokens.

        Raises ``AuthenticationError`` when the user denies access or the code expires,
        ``JobCancelledError`` on cancel, and the classified error of a failed request.
        """
        code = self.request_code()
        show_code(code)
        return self.wait_for_token(code, should_cancel=should_cancel)

    def request_code(self) -> DeviceCode:
        fields = {"client_id": self.client_id}
        if self.scope:
            fields["scope"] = self.scope
        status, data = self.post_form(self.endpoints.device_code_url, fields)
        if data.get("error") or status >= 400:
            raise grant_error(
                str(data.get("error") or f"HTTP {status}"),
                data,
                "device code request",
                label=self.label,
                platform_id=self.platform_id,
            )
        return self._device_code(data)

    def wait_for_token(
        self, code: DeviceCode, *, should_cancel: CancelCheck | None = None
    ) -> TokenSet:
        """Poll the token URL every ``interval`` seconds until a response other than
        ``authorization_pending`` or ``slow_down`` arrives, or the code expires."""
        deadline = self._clock() + code.expires_in
        interval = code.interval
        failures = 0
        while True:
            wait_or_cancel(interval, self._sleep, should_cancel, self.label)
            if self._clock() >= deadline:
                raise self._expired_error()
            try:
                status, data = self.post_form(self.endpoints.token_url, self._poll_fields(code))
            except (errors.NetworkError, errors.PlatformUnavailableError) as error:
                failures += 1
                if not _is_retryable(error) or failures > MAX_POLL_FAILURES:
                    raise
                interval = min(interval * 2, MAX_POLL_INTERVAL)
                log.warning(
                    "platform=%s device flow poll failed (%s), next poll in %.0f s",
                    self.platform_id,
                    error.kind,
                    interval,
                )
                continue
            failures = 0
            outcome = data.get("error")
            if outcome == "authorization_pending":
                continue
            if outcome == "slow_down":
                interval = self._slower_interval(interval, data)
                continue
            if outcome == "expired_token":
                raise self._expired_error()
            if outcome == "access_denied":
                raise errors.AuthenticationError(
                    f"{self.label}: the sign-in was denied on the verification page. Sign "
                    "in again and choose Authorize to connect Meshport.",
                    platform=self.platform_id,
                )
            return self.token_from(status, data, "device code")

    def _poll_fields(self, code: DeviceCode) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "device_code": code.device_code.reveal(),
            "grant_type": DEVICE_CODE_GRANT,
        }

    def _slower_interval(self, interval: float, data: dict) -> float:
        # GitHub sends the new interval with slow_down; RFC 8628 adds 5 seconds.
        slower = interval + SLOW_DOWN_STEP
        offered = data.get("interval")
        if isinstance(offered, (int, float)) and not isinstance(offered, bool):
            slower = max(slower, float(offered))
        log.info(
            "platform=%s device flow slow_down, polling every %.0f s", self.platform_id, slower
        )
        return slower

    def _expired_error(self) -> errors.AuthenticationError:
        return errors.AuthenticationError(
            f"{self.label}: the sign-in code expired before it was entered. Start the "
            "sign-in again and enter the new code.",
            platform=self.platform_id,
        )

    def _device_code(self, data: dict) -> DeviceCode:
        values: dict[str, Any] = {}
        for name in ("device_code", "user_code", "verification_uri"):
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise errors.ResponseFormatError(
                    f"{self.label}: the device code response has no {name} field.",
                    platform=self.platform_id,
                )
            values[name] = value
        # expires_in is required (RFC 8628 section 3.2); 900 s is GitHub's lifetime.
        expires_in = _number(data.get("expires_in"), 900.0)
        interval = _number(data.get("interval"), DEFAULT_POLL_INTERVAL)
        complete = data.get("verification_uri_complete")
        return DeviceCode(
            device_code=Secret(values["device_code"]),
            user_code=values["user_code"],
            verification_uri=values["verification_uri"],
            expires_in=expires_in,
            interval=max(interval, 1.0),
            verification_uri_complete=complete if isinstance(complete, str) else None,
        )


def _is_retryable(error: errors.MeshportError) -> bool:
    return not isinstance(error, (errors.ProxyFailureError, errors.TlsCertificateError))


def _number(value, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default
