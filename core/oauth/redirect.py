"""The authorization-code grant with PKCE, and the one-shot listener on 127.0.0.1 that
receives its redirect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import secrets
import time
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from .. import errors
from ..secrets import Secret
from ..tokens import Refresher, TokenSet
from .grants import (
    DEFAULT_TIMEOUT,
    CancelCheck,
    Clock,
    OAuthClient,
    OAuthEndpoints,
    endpoints_for,
    raise_if_cancelled,
    required_client_id,
)

log = logging.getLogger(__name__)


class AuthorizationCodeFlow(OAuthClient):
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
        self.client_id = required_client_id(client_id, self.label, platform_id)
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
                raise_if_cancelled(should_cancel, self.label)
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
