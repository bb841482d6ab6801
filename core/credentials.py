"""API keys and tokens in the operating system's keyring.

Every secret is stored through ``keyring`` under the service ``meshport`` with the
platform id (or an entry name such as ``sketchfab:oauth``) as the user name. Where
no keyring backend exists, secrets are kept in this process's memory only, and
``available`` is False so the preferences can say so, unless the user opens a
passphrase-protected file (``core.encrypted_store``) in its place.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

from .config import env_name
from .errors import CredentialStoreError
from .secrets import Secret

log = logging.getLogger(__name__)

SERVICE = "meshport"


def _load_backend():
    """Return keyring's chosen backend, or None when there is no usable one."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        log.warning("the keyring package is missing; keys are kept for this session only")
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as error:  # a broken keyring configuration must not stop Blender
        log.warning("no keyring backend (%s); keys are kept for this session only", error)
        return None
    if isinstance(backend, fail.Keyring):
        log.info("no keyring backend; keys are kept for this session only")
        return None
    return backend


def _usable(backend):
    """Return ``backend``, or None for keyring's fail backend (no real store)."""
    from keyring.backends import fail

    return None if isinstance(backend, fail.Keyring) else backend


class CredentialStore:
    """Get, set and delete secrets per entry; memory-only when no backend exists."""

    SERVICE = SERVICE

    def __init__(self, backend=None):
        self._backend = _usable(backend) if backend is not None else _load_backend()
        self._session_only: dict[str, Secret] = {}
        self._lock = threading.Lock()

    @classmethod
    def with_encrypted_file(
        cls, path: Path, passphrase: Secret, *, create: bool = False
    ) -> CredentialStore:
        """Return a store over the encrypted file at ``path``. Raises
        ``CredentialStoreError`` for a wrong passphrase or a damaged file, and when
        the file is missing and ``create`` is False."""
        from .encrypted_store import EncryptedFileKeyring

        return cls(backend=EncryptedFileKeyring(path, passphrase, create=create))

    def open_encrypted_file(self, path: Path, passphrase: Secret, *, create: bool = False) -> None:
        """Switch a store without a keyring backend to the encrypted file at ``path``,
        moving the secrets kept for this session into it.

        Raises ``CredentialStoreError`` when a keyring backend exists (the keyring
        stays in use), and as ``with_encrypted_file`` does.
        """
        from .encrypted_store import EncryptedFileKeyring

        if self._backend is not None and not self.uses_encrypted_file:
            raise CredentialStoreError(
                f"Keys are kept in the system keyring ({self.backend_name()}), so "
                "Meshport does not use an encrypted key file."
            )
        backend = EncryptedFileKeyring(path, passphrase, create=create)
        with self._lock:
            session_only = dict(self._session_only)
            self._session_only.clear()
        for entry, secret in session_only.items():
            if backend.get_password(SERVICE, entry) is None:
                backend.set_password(SERVICE, entry, secret.reveal())
        self._backend = backend
        log.info("keys are now kept in %s", backend.name)

    @property
    def available(self) -> bool:
        return self._backend is not None

    @property
    def uses_encrypted_file(self) -> bool:
        from .encrypted_store import EncryptedFileKeyring

        return isinstance(self._backend, EncryptedFileKeyring)

    def backend_name(self) -> str:
        if self._backend is None:
            return "none (keys are kept for this session only)"
        return getattr(self._backend, "name", type(self._backend).__name__)

    def get(self, entry: str) -> Secret | None:
        if self._backend is None:
            with self._lock:
                return self._session_only.get(entry)
        try:
            value = self._backend.get_password(SERVICE, entry)
        except Exception as error:
            raise self._error("read", entry, error) from None
        return Secret(value) if value else None

    def set(self, entry: str, secret: Secret) -> None:
        if not secret:
            raise CredentialStoreError(f"The key for {entry} is empty; paste the whole key.")
        if self._backend is None:
            with self._lock:
                self._session_only[entry] = secret
            return
        try:
            self._backend.set_password(SERVICE, entry, secret.reveal())
        except Exception as error:
            raise self._error("store", entry, error) from None
        log.info("stored the key for %s in %s", entry, self.backend_name())

    def delete(self, entry: str) -> None:
        if self._backend is None:
            with self._lock:
                self._session_only.pop(entry, None)
            return
        try:
            self._backend.delete_password(SERVICE, entry)
        except Exception as error:
            if type(error).__name__ == "PasswordDeleteError":
                return  # nothing was stored
            raise self._error("delete", entry, error) from None
        log.info("deleted the key for %s from %s", entry, self.backend_name())

    def has(self, entry: str) -> bool:
        return self.get(entry) is not None

    def _error(self, action: str, entry: str, error: Exception) -> CredentialStoreError:
        # The backend's own message is left out: some backends echo the value.
        log.warning("keyring %s failed for %s: %s", action, entry, type(error).__name__)
        return CredentialStoreError(
            f"The keyring ({self.backend_name()}) could not {action} the key for {entry} "
            f"({type(error).__name__}). Unlock the system keyring and try again."
        )


def key_for_platform(
    platform_id: str, store: CredentialStore | None, *, allow_environment: bool = True
) -> Secret | None:
    """Return the platform's key: ``MESHPORT_<ID>_KEY`` when allowed and set, else the
    stored one. The environment value is read only, never written anywhere."""
    if allow_environment:
        value = os.environ.get(env_name(platform_id, "KEY"), "").strip()
        if value:
            return Secret(value)
    if store is None:
        return None
    return store.get(platform_id)


# ---------------------------------------------------------------- OAuth apps


@dataclass(frozen=True)
class OAuthApp:
    """The OAuth app a user or studio registered with a platform. The client id and
    the redirect port are not secrets; the client secret is a separate entry."""

    client_id: str
    redirect_port: int = 0


def oauth_app_entry(platform_id: str) -> str:
    """Return the credential store entry for a platform's OAuth app settings."""
    return f"{platform_id}:oauth-app"


def load_oauth_app(store: CredentialStore, platform_id: str) -> OAuthApp | None:
    """Return the stored OAuth app of ``platform_id``, or None when none is set or
    the stored value is damaged."""
    stored = store.get(oauth_app_entry(platform_id))
    if stored is None:
        return None
    try:
        value = json.loads(stored.reveal())
        return OAuthApp(str(value["client_id"]), int(value.get("redirect_port") or 0))
    except (ValueError, KeyError, TypeError):
        log.warning("platform=%s stored OAuth app settings are damaged", platform_id)
        return None


def save_oauth_app(store: CredentialStore, platform_id: str, app: OAuthApp) -> None:
    value = {"client_id": app.client_id, "redirect_port": app.redirect_port}
    store.set(oauth_app_entry(platform_id), Secret(json.dumps(value)))


# ---------------------------------------------------------------- process-wide store

_process_store: CredentialStore | None = None
_process_store_lock = threading.Lock()
# Managers whose refresh grant was read from the store; a manager created again
# after ``tokens.forget_managers`` is not in it and gets its refresh grant again.
_managers_with_refresher: weakref.WeakSet = weakref.WeakSet()


def process_store() -> CredentialStore:
    """Return the store that platform clients read OAuth tokens from, created on
    first use over the default keyring backend."""
    global _process_store
    with _process_store_lock:
        if _process_store is None:
            _process_store = CredentialStore()
        return _process_store


def use_process_store(store: CredentialStore | None) -> None:
    """Make ``store`` the one ``process_store`` returns (None: the default again), and
    drop the token managers that read the previous one."""
    global _process_store
    from . import tokens

    with _process_store_lock:
        _process_store = store
    tokens.forget_managers()


def token_manager(platform_id: str, store: CredentialStore | None = None, *, ca_bundle=None):
    """Return the process-wide ``TokenManager`` of ``platform_id`` over ``store``
    (default ``process_store()``), with a refresh grant when the platform's OAuth app
    and client secret are stored.

    A manager created earlier keeps the store it was created with.
    """
    from . import oauth, tokens

    store = store if store is not None else process_store()
    label = oauth.PLATFORM_LABELS.get(platform_id, platform_id)
    manager = tokens.manager_for(platform_id, store, label=label)
    with _process_store_lock:
        configured = manager in _managers_with_refresher
        _managers_with_refresher.add(manager)
    if not configured:
        manager.set_refresher(_refresher(platform_id, store, ca_bundle))
    return manager


def reset_refresher(platform_id: str) -> None:
    """Read the platform's OAuth app again on the next ``token_manager`` call, after
    the user changed it."""
    with _process_store_lock:
        for manager in list(_managers_with_refresher):
            if manager.platform_id == platform_id:
                _managers_with_refresher.discard(manager)
                manager.set_refresher(None)


def _refresher(platform_id: str, store: CredentialStore, ca_bundle):
    """Return the refresh grant of the platform's stored OAuth app, or None when the
    app or its secret is missing or the platform has no refresh grant here."""
    from . import oauth, tokens

    endpoints = oauth.ENDPOINT_PATHS.get(platform_id, {})
    if "authorize" not in endpoints:
        # NOTE: GitHub's device flow tokens of OAuth apps do not expire, and renewing
        # those of GitHub Apps needs a client secret, which Meshport does not ask for.
        return None
    app = load_oauth_app(store, platform_id)
    client_secret = store.get(tokens.client_secret_entry(platform_id))
    if app is None or client_secret is None:
        return None
    flow = oauth.AuthorizationCodeFlow(
        app.client_id,
        client_secret,
        port=app.redirect_port,
        platform_id=platform_id,
        session=oauth.new_session(ca_bundle),
    )
    return flow.refresh
