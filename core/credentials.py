"""API keys and tokens in the operating system's keyring.

Every secret is stored through ``keyring`` under the service ``meshport`` with the
platform id (or an entry name such as ``sketchfab:oauth``) as the user name. Where
no keyring backend exists, secrets are kept in this process's memory only, and
``available`` is False so the preferences can say so.
"""

from __future__ import annotations

import logging
import os
import threading

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

    @property
    def available(self) -> bool:
        return self._backend is not None

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
