"""OAuth 2.0 sign-in for users who register their own OAuth app with a platform.

- GitHub: the device authorization grant (RFC 8628). Meshport shows a user code,
  the user enters it at the verification page, and Meshport polls the token URL. It
  needs a client id and no client secret.
- Sketchfab: the authorization-code grant (RFC 6749 section 4.1) with PKCE (RFC
  7636), received by a one-shot redirect listener on 127.0.0.1 at the port the user
  registered (RFC 8252 section 7.3), then the refresh grant. It needs the client id
  and the client secret of the user's app.

Meshport ships no client id or secret. ``MESHPORT_GITHUB_OAUTH_URL`` and
``MESHPORT_SKETCHFAB_OAUTH_URL`` replace ``https://github.com`` and
``https://sketchfab.com`` in the endpoint URLs, so tests can point at local servers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import os
import secrets
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import requests

from . import errors, tls
from .config import env_name
from .redact import redact_url
from .secrets import Secret
from .tokens import Refresher, TokenSet
from .version import USER_AGENT

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

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8628 section 3.2: without an ``interval``, poll every 5 seconds; after
# ``slow_down``, poll 5 seconds more slowly.
DEFAULT_POLL_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0
# Connection failures in a row tolerated while polling, with the interval doubled
# after each (RFC 8628 section 3.5), up to this many seconds.
MAX_POLL_FAILURES = 3
MAX_POLL_INTERVAL = 60.0
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


class _OAuthClient:
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
    _raise_if_cancelled(should_cancel, label)
    if should_cancel is None or sleep is not time.sleep:
        sleep(seconds)
    else:
        deadline = time.monotonic() + seconds
        while not should_cancel() and time.monotonic() < deadline:
            time.sleep(min(CANCEL_CHECK_INTERVAL, max(0.0, deadline - time.monotonic())))
    _raise_if_cancelled(should_cancel, label)


def _raise_if_cancelled(should_cancel: CancelCheck | None, label: str) -> None:
    if should_cancel is not None and should_cancel():
        raise errors.JobCancelledError(f"{label}: sign-in cancelled.")


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


class DeviceFlow(_OAuthClient):
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
        self.client_id = _required_client_id(client_id, self.label, platform_id)
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


def _required_client_id(client_id: str, label: str, platform_id: str) -> str:
    client_id = (client_id or "").strip()
    if not client_id:
        raise errors.ConfigurationError(
            f"{label}: no OAuth client id is set. Register an OAuth app with {label}, "
            "enter its client id in Meshport's preferences, or use an API key.",
            platform=platform_id,
        )
    return client_id


class AuthorizationCodeFlow(_OAuthClient):
    """The authorization-code grant with PKCE for one OAuth app, Sketchfab's by default.

    The redirect URI registered with the platform must be
    ``http://127.0.0.1:<port><callback_path>``.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: Secret,
        *,
        port: int,
        scope: str = "",
        callback_path: str = "/callback",
        endpoints: OAuthEndpoints | None = None,
        platform_id: str = "sketchfab",
        label: str | None = None,
        session: requests.Session | None = None,
        timeout=DEFAULT_TIMEOUT,
        clock: Clock = time.time,
    ):
        super().__init__(platform_id, label, session, timeout, clock)
        self.client_id = _required_client_id(client_id, self.label, platform_id)
        if not client_secret:
            raise errors.ConfigurationError(
                f"{self.label}: no OAuth client secret is set. Enter the secret of your "
                f"{self.label} OAuth app in Meshport's preferences.",
                platform=platform_id,
            )
        self._client_secret = client_secret
        self.port = port
        self.scope = scope
        self.callback_path = callback_path
        self.endpoints = endpoints or endpoints_for(platform_id)

    def sign_in(
        self,
        open_browser: Callable[[str], object] = webbrowser.open,
        *,
        wait_seconds: float = 300.0,
        should_cancel: CancelCheck | None = None,
        listener_clock: Clock = time.monotonic,
    ) -> TokenSet:
        """Open the authorization page with ``open_browser``, wait up to
        ``wait_seconds`` for the redirect, and exchange its code for tokens.

        Raises ``ConfigurationError`` when the port is in use, ``AuthenticationError``
        when the user denies access, the ``state`` does not match or the wait times
        out, and ``JobCancelledError`` on cancel.
        """
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        with RedirectListener(self.port, self.callback_path, label=self.label) as listener:
            open_browser(self.authorization_url(listener.redirect_uri, state, verifier))
            code = listener.wait_for_code(
                state, timeout=wait_seconds, should_cancel=should_cancel, clock=listener_clock
            )
            redirect_uri = listener.redirect_uri
        return self.exchange(code, redirect_uri, verifier)

    def authorization_url(self, redirect_uri: str, state: str, verifier: str) -> str:
        # NOTE: Sketchfab's documentation does not mention PKCE. RFC 7636 section 5
        # has clients send it to every server, since servers without it ignore it.
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        if self.scope:
            query["scope"] = self.scope
        return f"{self.endpoints.authorize_url}?{urlencode(query)}"

    def exchange(self, code: Secret, redirect_uri: str, verifier: str) -> TokenSet:
        fields = {
            "grant_type": "authorization_code",
            "code": code.reveal(),
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "client_secret": self._client_secret.reveal(),
            "code_verifier": verifier,
        }
        status, data = self.post_form(self.endpoints.token_url, fields)
        return self.token_from(status, data, "authorization code")

    def refresh(self, refresh_token: Secret) -> TokenSet:
        """Run the refresh grant (RFC 6749 section 6); usable as a ``Refresher``."""
        fields = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.reveal(),
            "client_id": self.client_id,
            "client_secret": self._client_secret.reveal(),
        }
        status, data = self.post_form(self.endpoints.token_url, fields)
        return self.token_from(status, data, "refresh token", previous_refresh=refresh_token)

    def refresher(self) -> Refresher:
        return self.refresh


# How long the listener blocks per step before it checks the deadline and the cancel
# check, and how long one browser connection may take to send its request, in seconds.
LISTENER_STEP_SECONDS = 0.25
CALLBACK_READ_TIMEOUT = 10.0

_PAGE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Meshport sign-in</title>'
    "</head><body><p>{message}</p></body></html>"
)


class _CallbackFailure:
    """A callback that arrived but cannot finish the sign-in."""

    def __init__(self, reason: str):
        self.reason = reason


class RedirectListener:
    """A one-shot HTTP server on 127.0.0.1 that receives the authorization redirect.

    It binds when created, so a port in use fails before the browser opens. It
    responds to requests for other paths (such as ``/favicon.ico``) with 404,
    processes exactly one request for the callback path, sends the browser a short
    page and stops. Port 0 picks a free port, for tests.
    """

    def __init__(self, port: int, path: str = "/callback", *, label: str = "Sketchfab"):
        self.path = path
        self.label = label
        try:
            self._server = HTTPServer(("127.0.0.1", port), _CallbackHandler)
        except OSError as error:
            raise errors.ConfigurationError(
                f"{label}: cannot listen on 127.0.0.1:{port} for the sign-in redirect "
                f"({error.strerror or error}). Close the program that uses this port, or "
                f"register another redirect port with {label} and enter it in Meshport's "
                "preferences."
            ) from None
        self._server.timeout = LISTENER_STEP_SECONDS
        self._server.callback_path = path
        self._server.expected_state = ""
        self._server.outcome = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def wait_for_code(
        self,
        state: str,
        *,
        timeout: float,
        should_cancel: CancelCheck | None = None,
        clock: Clock = time.monotonic,
    ) -> Secret:
        """Serve until the callback arrives and return its authorization code.

        Raises ``AuthenticationError`` when the callback carries another ``state``, an
        error or no code, or when none arrives within ``timeout`` seconds, and
        ``JobCancelledError`` when ``should_cancel`` returns True.
        """
        self._server.expected_state = state
        deadline = clock() + timeout
        try:
            while self._server.outcome is None:
                _raise_if_cancelled(should_cancel, self.label)
                if clock() >= deadline:
                    raise errors.AuthenticationError(
                        f"{self.label}: no sign-in redirect reached {self.redirect_uri} within "
                        f"{timeout:.0f} s. Check that the redirect URI registered for the "
                        "OAuth app is exactly this address, then sign in again."
                    )
                self._server.handle_request()
        finally:
            self.close()
        outcome = self._server.outcome
        if isinstance(outcome, _CallbackFailure):
            raise errors.AuthenticationError(f"{self.label}: {outcome.reason}. Sign in again.")
        return outcome

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> RedirectListener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _CallbackHandler(BaseHTTPRequestHandler):
    timeout = CALLBACK_READ_TIMEOUT

    def log_message(self, *args) -> None:
        # The default writes the request line, with the authorization code, to stderr.
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.callback_path or self.server.outcome is not None:
            self._respond(404, "Not found.")
            return
        outcome = _read_callback(parse_qs(parts.query), self.server.expected_state)
        self.server.outcome = outcome
        if isinstance(outcome, _CallbackFailure):
            self._respond(400, f"Meshport sign-in failed: {outcome.reason}. Return to Blender.")
        else:
            self._respond(
                200, "Meshport received the sign-in. You can close this tab and return to Blender."
            )

    def _respond(self, status: int, message: str) -> None:
        body = _PAGE.format(message=html.escape(message)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _read_callback(query: dict[str, list[str]], expected_state: str) -> Secret | _CallbackFailure:
    """Read a redirect's ``state``, ``error`` and ``code`` (RFC 6749 section 4.1.2).

    The state is checked first, because a redirect with a foreign state may come from
    another page."""
    state = (query.get("state") or [""])[0]
    if not expected_state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        return _CallbackFailure(
            "the sign-in redirect carried a state value that does not match this sign-in, "
            "so it may come from another page and was rejected"
        )
    error = (query.get("error") or [""])[0]
    if error == "access_denied":
        return _CallbackFailure("access was denied on the authorization page")
    if error:
        safe = "".join(char for char in error[:60] if char.isalnum() or char in "_-.")
        return _CallbackFailure(f"the platform returned the OAuth error '{safe}'")
    code = (query.get("code") or [""])[0]
    if not code:
        return _CallbackFailure("the sign-in redirect carried no authorization code")
    return Secret(code)
