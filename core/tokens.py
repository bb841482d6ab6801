"""OAuth tokens per platform: kept in the credential store, renewed shortly before
they expire and once after a 401, and shared by every thread.

The access token, refresh token and expiry of a platform are stored as one JSON
value in the credential store (the OS keyring) under the entry name
``<platform id>:oauth``, beside the platform's API key, which keeps the plain
platform id. They exist nowhere else, except in memory inside ``Secret`` objects.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn, Protocol
from urllib.parse import urlsplit

import requests

from . import errors
from .secrets import Secret

log = logging.getLogger(__name__)

Clock = Callable[[], float]

# Tokens are renewed when they expire within this many seconds, so a request sent
# just before the expiry does not arrive just after it.
REFRESH_MARGIN_SECONDS = 300.0


def token_entry(platform_id: str) -> str:
    """Return the credential store entry for a platform's OAuth tokens."""
    return f"{platform_id}:oauth"


def client_secret_entry(platform_id: str) -> str:
    """Return the credential store entry for the OAuth client secret a user entered."""
    return f"{platform_id}:oauth-client-secret"


class SecretStore(Protocol):
    """The part of ``core.credentials.CredentialStore`` the token manager uses."""

    def get(self, platform_id: str) -> Secret | None: ...

    def set(self, platform_id: str, secret: Secret) -> None: ...

    def delete(self, platform_id: str) -> None: ...


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one sign-in; ``expires_at`` is in epoch seconds, None when the
    platform gave no lifetime."""

    access_token: Secret = field(repr=False)
    refresh_token: Secret | None = field(default=None, repr=False)
    expires_at: float | None = None
    token_type: str = "bearer"
    scope: str = ""

    @classmethod
    def from_token_response(
        cls, data: dict, now: float, previous_refresh: Secret | None = None
    ) -> TokenSet:
        """Build from a token endpoint's JSON (RFC 6749 section 5.1).

        A refresh response may omit ``refresh_token``, in which case the previous one
        stays valid. Raises ``ResponseFormatError`` naming a missing or invalid field.
        """
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise errors.ResponseFormatError(
                "The token response has no access_token field, so sign-in cannot finish."
            )
        refresh = data.get("refresh_token")
        expires_in = data.get("expires_in")
        if expires_in is not None and not _is_number(expires_in):
            raise errors.ResponseFormatError(
                f"The token response has an invalid expires_in value {expires_in!r}."
            )
        return cls(
            access_token=Secret(access),
            refresh_token=Secret(refresh)
            if isinstance(refresh, str) and refresh
            else previous_refresh,
            expires_at=now + float(expires_in) if expires_in is not None else None,
            token_type=str(data.get("token_type") or "bearer"),
            scope=str(data.get("scope") or ""),
        )

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at is not None and self.expires_at - now <= seconds

    def to_secret(self) -> Secret:
        """Return the JSON form stored in the credential store, wrapped as a secret."""
        value = {
            "access_token": self.access_token.reveal(),
            "refresh_token": self.refresh_token.reveal() if self.refresh_token else None,
            "expires_at": self.expires_at,
            "token_type": self.token_type,
            "scope": self.scope,
        }
        return Secret(json.dumps(value))

    @classmethod
    def from_secret(cls, secret: Secret) -> TokenSet | None:
        """Parse the stored JSON form; None when it is damaged."""
        try:
            value = json.loads(secret.reveal())
            access = value["access_token"]
            refresh = value.get("refresh_token")
            expires_at = value.get("expires_at")
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if not isinstance(access, str) or not (expires_at is None or _is_number(expires_at)):
            return None
        return cls(
            access_token=Secret(access),
            refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
            expires_at=float(expires_at) if expires_at is not None else None,
            token_type=str(value.get("token_type") or "bearer"),
            scope=str(value.get("scope") or ""),
        )


# Given the current refresh token, return the new tokens. Raises
# ``AuthenticationError`` when the platform rejects the refresh, and another
# ``MeshportError`` (network, platform down) when no response arrived.
Refresher = Callable[[Secret], TokenSet]


class TokenManager:
    """The tokens of one platform, shared by every thread of the process.

    Refreshes run one at a time under ``_refresh_lock``. A thread that needs a new
    token while a refresh runs waits for it and then uses its result, so any number
    of threads with an expired or rejected token cause one refresh. The state lock
    is never held during a request, so ``signed_in`` does not wait for the network.
    """

    def __init__(
        self,
        platform_id: str,
        store: SecretStore,
        *,
        refresh: Refresher | None = None,
        label: str | None = None,
        clock: Clock = time.time,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
    ):
        self.platform_id = platform_id
        self.label = label or platform_id
        self.refresh_margin = refresh_margin
        self._store = store
        self._refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._tokens: TokenSet | None = None
        self._loaded = False
        self._sign_out_message: str | None = None

    def set_refresher(self, refresh: Refresher | None) -> None:
        with self._lock:
            self._refresh = refresh

    def signed_in(self) -> bool:
        with self._lock:
            return self._load() is not None

    def save(self, tokens: TokenSet) -> None:
        """Store the tokens of a new sign-in."""
        with self._lock:
            self._store.set(token_entry(self.platform_id), tokens.to_secret())
            self._tokens = tokens
            self._loaded = True
            self._sign_out_message = None
        log.info("platform=%s signed in with OAuth", self.platform_id)

    def sign_out(self) -> None:
        """Delete the stored tokens of this platform."""
        with self._lock:
            self._forget_tokens()
        log.info("platform=%s signed out", self.platform_id)

    def access_token(self) -> Secret:
        """Return a usable access token, renewing it first when it expires within
        ``refresh_margin`` seconds.

        Raises ``AuthenticationError`` when not signed in or when the platform
        rejected the renewal (which signs the user out), and the ``MeshportError`` of
        a renewal that got no response once the token has expired.
        """
        tokens = self._current()
        if not self._expiring(tokens):
            return tokens.access_token
        with self._refresh_lock:
            # Another thread may have renewed the token or signed out meanwhile.
            tokens = self._current()
            if not self._expiring(tokens):
                return tokens.access_token
            try:
                return self._renew(tokens, "it expires soon").access_token
            except errors.AuthenticationError:
                raise
            except errors.MeshportError as error:
                if tokens.expires_within(0.0, self._clock()):
                    raise
                log.warning(
                    "platform=%s token renewal failed, using the current token until it "
                    "expires: %s",
                    self.platform_id,
                    error.message,
                )
                return tokens.access_token

    def renew_after_rejection(self, rejected: Secret) -> Secret:
        """Return a token to retry with after the platform responded with 401 to
        ``rejected``.

        When another thread already replaced ``rejected``, its replacement is returned
        without a new refresh. Raises as ``access_token`` does.
        """
        with self._refresh_lock:
            tokens = self._current()
            if tokens.access_token != rejected:
                return tokens.access_token
            return self._renew(tokens, "the platform rejected the access token").access_token

    def _current(self) -> TokenSet:
        with self._lock:
            return self._require_tokens()

    def _expiring(self, tokens: TokenSet) -> bool:
        return tokens.expires_within(self.refresh_margin, self._clock())

    def _load(self) -> TokenSet | None:
        if not self._loaded:
            stored = self._store.get(token_entry(self.platform_id))
            self._tokens = TokenSet.from_secret(stored) if stored is not None else None
            if stored is not None and self._tokens is None:
                log.warning(
                    "platform=%s stored OAuth tokens are damaged; ignoring them", self.platform_id
                )
            self._loaded = True
        return self._tokens

    def _require_tokens(self) -> TokenSet:
        tokens = self._load()
        if tokens is not None:
            return tokens
        message = self._sign_out_message or (
            f"{self.label}: not signed in. Sign in again in Meshport's preferences, or "
            "use an API key."
        )
        raise errors.AuthenticationError(message, platform=self.platform_id)

    def _renew(self, tokens: TokenSet, reason: str) -> TokenSet:
        """Run the refresh grant, with ``_refresh_lock`` held by the caller, and sign
        out when the platform rejects it."""
        refresh = self._refresh
        if refresh is None or tokens.refresh_token is None:
            self._sign_out_after_failure(
                tokens, reason, "it cannot be renewed without a new sign-in"
            )
        log.info("platform=%s renewing the OAuth token because %s", self.platform_id, reason)
        try:
            renewed = refresh(tokens.refresh_token)
        except errors.AuthenticationError as error:
            self._sign_out_after_failure(tokens, reason, "the platform rejected the renewal", error)
        if renewed.refresh_token is None:
            renewed = TokenSet(
                renewed.access_token,
                tokens.refresh_token,
                renewed.expires_at,
                renewed.token_type,
                renewed.scope,
            )
        with self._lock:
            if self._tokens is not tokens:
                # A new sign-in or a sign-out happened during the request, and it wins.
                return self._require_tokens()
            self._store.set(token_entry(self.platform_id), renewed.to_secret())
            self._tokens = renewed
        return renewed

    def _sign_out_after_failure(
        self, tokens: TokenSet, reason: str, failure: str, cause: Exception | None = None
    ) -> NoReturn:
        message = (
            f"{self.label}: the sign-in could not be renewed ({reason}, and {failure}), "
            f"so Meshport signed you out of {self.label}. Sign in again in Meshport's "
            "preferences."
        )
        with self._lock:
            if self._tokens is tokens:
                self._forget_tokens()
                self._sign_out_message = message
        log.warning("platform=%s signed out: %s", self.platform_id, message)
        raise errors.AuthenticationError(message, platform=self.platform_id) from cause

    def _forget_tokens(self) -> None:
        self._store.delete(token_entry(self.platform_id))
        self._tokens = None
        self._loaded = True


class BearerTokenAuth(requests.auth.AuthBase):
    """Sends ``Authorization: Bearer <token>`` from a ``TokenManager`` to the
    platform's own host only, and on a 401 from that host renews the token once and
    sends the request once more."""

    def __init__(self, manager: TokenManager, host: str, scheme: str = "Bearer"):
        self.manager = manager
        self.host = host
        self.scheme = scheme

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(request.url).netloc != self.host:
            return request
        token = self.manager.access_token()
        request.headers["Authorization"] = f"{self.scheme} {token.reveal()}"
        request.register_hook("response", _RetryOn401(self, token))
        return request

    def __repr__(self) -> str:
        return f"BearerTokenAuth(platform={self.manager.platform_id!r}, host={self.host!r})"


class _RetryOn401:
    """The response hook of one request: at most one renewal and one resend."""

    def __init__(self, auth: BearerTokenAuth, sent: Secret):
        self.auth = auth
        self.sent = sent
        self.used = False

    def __call__(self, response: requests.Response, **kwargs) -> requests.Response:
        if self.used or response.status_code != 401:
            return response
        if urlsplit(response.request.url).netloc != self.auth.host:
            return response
        self.used = True
        token = self.auth.manager.renew_after_rejection(self.sent)

        # Read and release the 401 so its connection returns to the pool.
        _ = response.content
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"{self.auth.scheme} {token.reveal()}"
        resent = response.connection.send(retry, **kwargs)
        resent.history.append(response)
        resent.request = retry
        return resent


_managers: dict[str, TokenManager] = {}
_managers_lock = threading.Lock()


def manager_for(platform_id: str, store: SecretStore, **options) -> TokenManager:
    """Return the process-wide manager of ``platform_id``, creating it with
    ``options`` (``TokenManager`` keywords) on first use."""
    with _managers_lock:
        manager = _managers.get(platform_id)
        if manager is None:
            manager = TokenManager(platform_id, store, **options)
            _managers[platform_id] = manager
        return manager


def forget_managers() -> None:
    """Drop every process-wide manager; the add-on calls this when it is disabled."""
    with _managers_lock:
        _managers.clear()


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
