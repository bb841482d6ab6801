"""API keys and tokens in the operating system's keyring.

Each secret is stored through ``keyring`` under the service ``meshport`` with the
platform id (or an entry name such as ``sketchfab:oauth``) as the user name. When no
keyring backend exists, secrets stay in this process's memory only and ``available``
is False, so the preferences can tell the artist that keys last for this session. The
user may then open a passphrase-protected file (``core.encrypted_store``) in place of
the keyring.

Blender unpacks the wheels of every extension into one folder and the newest copy of
a package wins, so the ``keyring`` found here may be newer than the bundled one. This
module uses only keyring's stable public API: ``get_keyring``, the backend methods
``get_password``, ``set_password`` and ``delete_password``, and ``keyring.errors``.
NOTE: the tests run against keyring 25.7.0, the newest release when this was written.
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
SESSION_ONLY_NAME = "none (session only: keys are forgotten when Blender closes)"


def _is_fail_backend(backend) -> bool:
    """Return whether ``backend`` is keyring's stand-in for "no backend found"."""
    from keyring.backends import fail

    return isinstance(backend, fail.Keyring)


def _default_backend():
    """Return keyring's chosen backend, or None when there is no usable one."""
    try:
        import keyring
    except ImportError:
        log.warning("the keyring package is missing; keys are kept for this session only")
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as error:  # a broken keyring configuration must not stop Blender
        log.warning(
            "keyring could not choose a backend (%s); keys are kept for this session only",
            type(error).__name__,
        )
        return None
    if _is_fail_backend(backend):
        log.info("no keyring backend found; keys are kept for this session only")
        return None
    return backend


def _is_no_keyring_error(error: Exception) -> bool:
    from keyring.errors import NoKeyringError

    return isinstance(error, NoKeyringError)


class CredentialStore:
    """Get, set and delete secrets per platform; in memory only without a backend.

    ``backend`` is a keyring backend instance; None chooses ``keyring.get_keyring()``.
    Keyring's fail backend counts as no backend. Every method raises
    ``CredentialStoreError`` when the backend refuses, with a message that never
    contains the secret.
    """

    SERVICE = SERVICE

    def __init__(self, backend=None):
        if backend is not None and _is_fail_backend(backend):
            backend = None
        elif backend is None:
            backend = _default_backend()
        self._backend = backend
        self._session_only: dict[str, Secret] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """Whether secrets go to a keyring backend rather than to memory."""
        return self._backend is not None

    @property
    def uses_encrypted_file(self) -> bool:
        """Whether secrets go to the passphrase-protected file of ``open_encrypted_file``."""
        from .encrypted_store import EncryptedFileKeyring

        return isinstance(self._backend, EncryptedFileKeyring)

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
            for entry, secret in self._session_only.items():
                if backend.get_password(SERVICE, entry) is None:
                    backend.set_password(SERVICE, entry, secret.reveal())
            self._session_only.clear()
            self._backend = backend
        log.info("keys are now kept in %s", backend.name)

    def backend_name(self) -> str:
        """Return the backend's name for the preferences, e.g. "SecretService Keyring".

        keyring chains backends when several are usable and writes to the first one
        that accepts, so a chain is named after its first backend."""
        if self._backend is None:
            return SESSION_ONLY_NAME
        chained = list(getattr(self._backend, "backends", None) or [])
        backend = chained[0] if chained else self._backend
        return str(getattr(backend, "name", type(backend).__name__))

    def get(self, platform_id: str) -> Secret | None:
        with self._lock:
            if self._backend is not None:
                try:
                    value = self._backend.get_password(SERVICE, platform_id)
                except Exception as error:
                    self._handle_backend_error("read", platform_id, error)
                else:
                    return Secret(value) if value else None
            return self._session_only.get(platform_id)

    def set(self, platform_id: str, secret: Secret) -> None:
        if not secret:
            raise CredentialStoreError(
                f"The key for {platform_id} is empty, so it was not stored. "
                "Paste the whole key and try again."
            )
        with self._lock:
            if self._backend is not None:
                try:
                    self._backend.set_password(SERVICE, platform_id, secret.reveal())
                except Exception as error:
                    self._handle_backend_error("store", platform_id, error, secret)
                else:
                    log.info("stored the key for %s in %s", platform_id, self.backend_name())
                    return
            self._session_only[platform_id] = secret
            log.info("kept the key for %s in memory for this session", platform_id)

    def delete(self, platform_id: str) -> None:
        from keyring.errors import PasswordDeleteError

        with self._lock:
            self._session_only.pop(platform_id, None)
            if self._backend is None:
                return
            try:
                self._backend.delete_password(SERVICE, platform_id)
            except PasswordDeleteError:
                return  # nothing was stored
            except Exception as error:
                self._handle_backend_error("delete", platform_id, error)
                return
            log.info("deleted the key for %s from %s", platform_id, self.backend_name())

    def has(self, platform_id: str) -> bool:
        return self.get(platform_id) is not None

    def _handle_backend_error(
        self, action: str, platform_id: str, error: Exception, secret: Secret | None = None
    ) -> None:
        """Fall back to memory when the backend reports that no keyring exists (the
        caller then continues in memory); raise ``CredentialStoreError`` otherwise."""
        if _is_no_keyring_error(error):
            log.warning(
                "keyring backend %s reports no keyring; keys are kept for this session only",
                self.backend_name(),
            )
            self._backend = None
            return
        detail = str(error)[:200]
        # Some backends echo their arguments, so a message that contains the secret
        # is dropped and only the error's type is kept.
        if secret is not None and secret.reveal() in str(error):
            detail = ""
        log.warning("keyring %s failed for %s: %s", action, platform_id, type(error).__name__)
        reason = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
        raise CredentialStoreError(
            f"The keyring ({self.backend_name()}) could not {action} the key for "
            f"{platform_id} ({reason}). Unlock the system keyring and try again."
        ) from None


def key_for_platform(
    platform_id: str, store: CredentialStore | None, *, allow_environment: bool = True
) -> Secret | None:
    """Return the platform's key: ``MESHPORT_<ID>_KEY`` when allowed and set, else the
    stored one. The environment value is only read, never written anywhere."""
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
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("platform=%s stored OAuth app settings are damaged", platform_id)
        return None


def save_oauth_app(store: CredentialStore, platform_id: str, app: OAuthApp) -> None:
    value = {"client_id": app.client_id, "redirect_port": app.redirect_port}
    store.set(oauth_app_entry(platform_id), Secret(json.dumps(value)))


# ---------------------------------------------------------------- process-wide store

_process_store: CredentialStore | None = None
_process_store_lock = threading.Lock()
# Managers whose refresh grant was read from the store. A manager created again
# after ``tokens.forget_managers`` is not in it, so it gets its refresh grant again.
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

    if "authorize" not in oauth.ENDPOINT_PATHS.get(platform_id, {}):
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
