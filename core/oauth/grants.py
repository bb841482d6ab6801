"""The parts both grants share: endpoint URLs, the session, the form POST to a token
endpoint, the mapping of its response to tokens or an error, and cancellable waits."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import requests

from .. import errors, tls
from ..config import env_name
from ..redact import redact_url
from ..secrets import Secret
from ..tokens import TokenSet
from ..version import USER_AGENT

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]
Clock = Callable[[], float]
CancelCheck = Callable[[], bool]

DEFAULT_OAUTH_BASE_URLS = {
    "github": "https://github.com",
    "sketchfab": "https://sketchfab.com",
}
ENDPOINT_PATHS = {
    "github": {"device_code": "/login/device/code", "token": "/login/oauth/access_token"},
    "sketchfab": {"authorize": "/oauth2/authorize/", "token": "/oauth2/token/"},
}
PLATFORM_LABELS = {"github": "GitHub", "sketchfab": "Sketchfab"}

# How often a wait checks ``should_cancel``, in seconds.
CANCEL_CHECK_INTERVAL = 0.25
DEFAULT_TIMEOUT = (10.0, 30.0)


@dataclass(frozen=True)
class OAuthEndpoints:
    token_url: str
    device_code_url: str = ""
    authorize_url: str = ""


def endpoints_for(platform_id: str, base_url: str = "") -> OAuthEndpoints:
    """Return the OAuth URLs of a platform: ``MESHPORT_<ID>_OAUTH_URL``, else
    ``base_url``, else the platform's own host, followed by the documented paths."""
    if platform_id not in ENDPOINT_PATHS:
        known = ", ".join(ENDPOINT_PATHS)
        raise errors.ConfigurationError(
            f"Meshport has no OAuth sign-in for '{platform_id}'. OAuth is available for: {known}."
        )
    variable = env_name(platform_id, "OAUTH_URL")
    from_env = os.environ.get(variable, "").strip()
    if from_env:
        log.info("%s: OAuth base URL %s from %s", platform_id, from_env, variable)
    base = (from_env or base_url.strip() or DEFAULT_OAUTH_BASE_URLS[platform_id]).rstrip("/")
    paths = ENDPOINT_PATHS[platform_id]
    return OAuthEndpoints(
        token_url=base + paths["token"],
        device_code_url=base + paths["device_code"] if "device_code" in paths else "",
        authorize_url=base + paths["authorize"] if "authorize" in paths else "",
    )


def new_session(ca_bundle: str | None = None) -> requests.Session:
    """Return a session for OAuth endpoints with Meshport's User-Agent and TLS trust."""
    return tls.new_session(USER_AGENT, ca_bundle)


class OAuthClient:
    """The session, label and form POSTs that both grants share."""

    def __init__(self, platform_id, label, session, timeout, clock):
        self.platform_id = platform_id
        self.label = label or PLATFORM_LABELS.get(platform_id, platform_id)
        self._owns_session = session is None
        self.session = session or new_session()
        self.timeout = timeout
        self._clock = clock

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def post_form(self, url: str, fields: dict[str, str]) -> tuple[int, dict]:
        return post_form(
            self.session,
            url,
            fields,
            label=self.label,
            platform_id=self.platform_id,
            timeout=self.timeout,
        )

    def token_from(self, status: int, data: dict, grant: str, previous_refresh=None) -> TokenSet:
        return token_from_response(
            status,
            data,
            grant,
            label=self.label,
            platform_id=self.platform_id,
            now=self._clock(),
            previous_refresh=previous_refresh,
        )


def post_form(
    session: requests.Session,
    url: str,
    fields: dict[str, str],
    *,
    label: str,
    platform_id: str,
    timeout=DEFAULT_TIMEOUT,
) -> tuple[int, dict]:
    """POST ``fields`` form-encoded and return the status and the decoded body.

    The fields may contain secrets, so they are never logged. Raises the classified
    network error, ``RateLimitedError`` or ``PlatformUnavailableError`` for those
    responses, and ``ResponseFormatError`` for a body that is neither JSON nor form data.
    """
    try:
        response = session.post(
            url, data=fields, headers={"Accept": "application/json"}, timeout=timeout
        )
    except requests.RequestException as error:
        raise tls.classify_exception(error, label=label, platform_id=platform_id) from error
    with response:
        log.info(
            "platform=%s oauth method=POST url=%s status=%s",
            platform_id,
            redact_url(url),
            response.status_code,
        )
        failure = tls.classify_response(response, label=label, platform_id=platform_id)
        if failure is not None and response.status_code != 401:
            raise failure
        body = _decode_body(response)
    if body is None and response.status_code in (400, 401):
        # A rejection without an OAuth error body; token_from_response maps the status.
        body = {}
    if body is None:
        raise errors.ResponseFormatError(
            f"{label}: the OAuth endpoint {redact_url(url)} responded with HTTP "
            f"{response.status_code} without a JSON body. Check the OAuth URL setting.",
            platform=platform_id,
            status=response.status_code,
        )
    return response.status_code, body


def _decode_body(response: requests.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    # GitHub responds form-encoded unless the request accepts JSON.
    if "application/x-www-form-urlencoded" in response.headers.get("Content-Type", ""):
        return dict(parse_qsl(response.text))
    return None


def token_from_response(
    status: int,
    data: dict,
    grant: str,
    *,
    label: str,
    platform_id: str,
    now: float,
    previous_refresh: Secret | None = None,
) -> TokenSet:
    """Return the tokens of a successful token response, or raise the mapped error.

    ``grant`` names the request in messages, for example "authorization code".
    The ``error`` field is read whatever the status, because some servers send OAuth
    errors with HTTP 200 while RFC 6749 uses 400 and 401.
    """
    code = data.get("error")
    if code:
        raise grant_error(str(code), data, grant, label=label, platform_id=platform_id)
    if status >= 400:
        raise errors.AuthenticationError(
            f"{label}: the token endpoint rejected the {grant} (HTTP {status}). Sign in again.",
            platform=platform_id,
            status=status,
        )
    return TokenSet.from_token_response(data, now, previous_refresh)


def grant_error(
    code: str, data: dict, grant: str, *, label: str, platform_id: str
) -> errors.MeshportError:
    """Map an OAuth ``error`` code (RFC 6749 section 5.2, RFC 8628 section 3.5, and
    GitHub's own codes) to an error with a next step."""
    detail = data.get("error_description")
    suffix = f" ({str(detail)[:200]})" if detail else ""
    kwargs = {"platform": platform_id}
    if code in ("invalid_client", "incorrect_client_credentials", "unauthorized_client"):
        return errors.AuthenticationError(
            f"{label}: the OAuth client id or secret was rejected{suffix}. Check them "
            "against the OAuth app you registered.",
            **kwargs,
        )
    if code in (
        "invalid_grant",
        "bad_verification_code",
        "bad_refresh_token",
        "incorrect_device_code",
    ):
        return errors.AuthenticationError(
            f"{label}: the {grant} was rejected as invalid or expired{suffix}. Sign in again.",
            **kwargs,
        )
    if code == "device_flow_disabled":
        return errors.ConfigurationError(
            f"{label}: the device flow is turned off for this OAuth app. Turn on "
            '"Enable Device Flow" in the app\'s settings and sign in again.',
            **kwargs,
        )
    return errors.AuthenticationError(
        f"{label}: the {grant} failed with the OAuth error '{code[:60]}'{suffix}.", **kwargs
    )


def wait_or_cancel(
    seconds: float, sleep: Sleep, should_cancel: CancelCheck | None, label: str
) -> None:
    """Wait ``seconds`` and raise ``JobCancelledError`` once ``should_cancel`` returns
    True. ``time.sleep`` waits in short steps; an injected ``sleep`` gets the whole wait."""
    raise_if_cancelled(should_cancel, label)
    if should_cancel is None or sleep is not time.sleep:
        sleep(seconds)
    else:
        deadline = time.monotonic() + seconds
        while not should_cancel() and time.monotonic() < deadline:
            time.sleep(min(CANCEL_CHECK_INTERVAL, max(0.0, deadline - time.monotonic())))
    raise_if_cancelled(should_cancel, label)


def raise_if_cancelled(should_cancel: CancelCheck | None, label: str) -> None:
    if should_cancel is not None and should_cancel():
        raise errors.JobCancelledError(f"{label}: sign-in cancelled.")



def required_client_id(client_id: str, label: str, platform_id: str) -> str:
    client_id = (client_id or "").strip()
    if not client_id:
        raise errors.ConfigurationError(
            f"{label}: no OAuth client id is set. Register an OAuth app with {label}, "
            "enter its client id in Meshport's preferences, or use an API key.",
            platform=platform_id,
        )
    return client_id
