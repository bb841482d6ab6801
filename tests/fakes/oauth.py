"""A fake OAuth 2.0 server on 127.0.0.1, written from RFC 6749, RFC 7636, RFC 8628 and
GitHub's documentation of its device flow.

Routes:

- ``POST /login/device/code``: a device authorization response (GitHub's path).
- ``POST /login/oauth/access_token``: the device grant. Each poll takes the next
  outcome from ``device_answers`` (``authorization_pending``, ``slow_down``,
  ``expired_token``, ``access_denied`` or ``grant``); errors come with HTTP 200,
  as some servers send them, or with the status in ``error_status`` (400 in RFC 8628).
- ``GET /oauth2/authorize/``: redirects (302) to the ``redirect_uri`` with a code and
  the ``state``, or with ``error=access_denied`` when ``deny_authorization`` is set.
- ``POST /oauth2/token/``: the authorization-code grant (client secret and PKCE
  verifier checked) and the refresh grant.
- ``GET /api/me``: a resource that needs ``Authorization: Bearer <access token>`` and
  responds with 401 and an RFC 6750 challenge otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from fakes.server import FakeServer, Reply, RequestInfo

CLIENT_ID = "fake-client-id-0001"
CLIENT_SECRET = "fake-client-secret-abcdef0123456789"
USER_CODE = "WDJB-MJHT"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class _PendingCode:
    redirect_uri: str
    challenge: str


class FakeOAuthServer(FakeServer):
    """OAuth endpoints with the knobs tests turn; counters are read after a run."""

    def __init__(self, *, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET):
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.device_answers: list[str] = ["grant"]
        self.device_interval = 5
        self.device_expires_in = 900
        self.slow_down_interval: int | None = None
        self.error_status = 200
        self.deny_authorization = False
        self.reject_refresh = False
        self.access_token_lifetime = 3600
        self.refresh_delay = 0.0
        self.device_polls = 0
        self.refresh_count = 0
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._device_code = "device-code-" + "7" * 24
        self._codes: dict[str, _PendingCode] = {}
        self.valid_access_tokens: set[str] = set()
        self.valid_refresh_tokens: set[str] = set()
        self.route("POST", r"/login/device/code", self._device_code_route)
        self.route("POST", r"/login/oauth/access_token", self._device_token_route)
        self.route("GET", r"/oauth2/authorize/", self._authorize_route)
        self.route("POST", r"/oauth2/token/", self._token_route)
        self.route("GET", r"/api/me", self._me_route)

    def issue_tokens(self) -> dict:
        """Create a valid access and refresh token pair and return the token response."""
        serial = next(self._serial)
        access = f"access-{serial:04d}-" + "a" * 20
        refresh = f"refresh-{serial:04d}-" + "r" * 20
        with self._lock:
            self.valid_access_tokens.add(access)
            self.valid_refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.access_token_lifetime,
            "refresh_token": refresh,
            "scope": "read write",
        }

    def revoke_access_tokens(self) -> None:
        """Expire every issued access token, so ``/api/me`` rejects it with 401."""
        with self._lock:
            self.valid_access_tokens.clear()

    def _form(self, info: RequestInfo) -> dict[str, str]:
        fields = parse_qs(info.seen.body.decode())
        return {name: values[0] for name, values in fields.items()}

    def _error(self, code: str, status: int | None = None, **extra) -> Reply:
        return Reply.json({"error": code, **extra}, status or self.error_status)

    def _device_code_route(self, info: RequestInfo) -> Reply:
        form = self._form(info)
        if form.get("client_id") != self.client_id:
            return Reply.json({"error": "Not Found"}, 404)
        return Reply.json(
            {
                "device_code": self._device_code,
                "user_code": USER_CODE,
                "verification_uri": f"{self.url}/login/device",
                "expires_in": self.device_expires_in,
                "interval": self.device_interval,
            }
        )

    def _device_token_route(self, info: RequestInfo) -> Reply:
        form = self._form(info)
        if form.get("grant_type") != DEVICE_GRANT:
            return self._error("unsupported_grant_type")
        if form.get("client_id") != self.client_id:
            return self._error("incorrect_client_credentials")
        if form.get("device_code") != self._device_code:
            return self._error("incorrect_device_code")
        with self._lock:
            self.device_polls += 1
            answer = (
                self.device_answers.pop(0)
                if len(self.device_answers) > 1
                else self.device_answers[0]
            )
        if answer == "grant":
            return Reply.json(self.issue_tokens())
        if answer == "slow_down" and self.slow_down_interval is not None:
            return self._error(answer, interval=self.slow_down_interval)
        return self._error(answer)

    def _authorize_route(self, info: RequestInfo) -> Reply:
        redirect_uri = info.param("redirect_uri", "")
        state = info.param("state", "")
        if info.param("client_id") != self.client_id or info.param("response_type") != "code":
            return Reply.json({"error": "invalid_request"}, 400)
        if self.deny_authorization:
            query = {"error": "access_denied", "state": state}
        else:
            code = f"auth-code-{next(self._serial):04d}"
            with self._lock:
                self._codes[code] = _PendingCode(redirect_uri, info.param("code_challenge", ""))
            query = {"code": code, "state": state}
        return Reply(302, b"", {"Location": f"{redirect_uri}?{urlencode(query)}"})

    def _token_route(self, info: RequestInfo) -> Reply:
        form = self._form(info)
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return self._error("invalid_client", status=401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._code_grant(form)
        if grant == "refresh_token":
            return self._refresh_grant(form)
        return self._error("unsupported_grant_type", status=400)

    def _code_grant(self, form: dict[str, str]) -> Reply:
        with self._lock:
            pending = self._codes.pop(form.get("code", ""), None)
        if pending is None or pending.redirect_uri != form.get("redirect_uri"):
            return self._error("invalid_grant", status=400)
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != pending.challenge:
            return self._error(
                "invalid_grant", status=400, error_description="PKCE verification failed"
            )
        return Reply.json(self.issue_tokens())

    def _refresh_grant(self, form: dict[str, str]) -> Reply:
        with self._lock:
            self.refresh_count += 1
            known = form.get("refresh_token") in self.valid_refresh_tokens
        # A slow response widens the window in which other threads need a token.
        time.sleep(self.refresh_delay)
        if self.reject_refresh or not known:
            return self._error(
                "invalid_grant", status=400, error_description="Invalid refresh token"
            )
        return Reply.json(self.issue_tokens())

    def _me_route(self, info: RequestInfo) -> Reply:
        header = info.seen.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        with self._lock:
            valid = header.startswith("Bearer ") and token in self.valid_access_tokens
        if not valid:
            challenge = 'Bearer error="invalid_token", error_description="The access token expired"'
            return Reply.json({"detail": "Invalid token."}, 401, {"WWW-Authenticate": challenge})
        return Reply.json({"username": "tester"})
