"""API keys as the preferences and the sidebar see them: stored or not, and where.

The key itself goes straight from the operator that receives it to the credential
store: the system keyring, or memory for this session when there is none. It is
never kept in a Blender property that is saved.
"""

from __future__ import annotations

import logging

from ..core import policy
from ..core.errors import CredentialStoreError
from ..core.secrets import Secret
from . import service
from .state import panel_state

log = logging.getLogger(__name__)


def key_stored(platform_id: str) -> bool | None:
    """Return whether a key is stored for the platform, or None when the store
    cannot be read. The store is read once per session and the result cached."""
    known = panel_state.key_stored.get(platform_id)
    if known is not None:
        return known
    try:
        stored = service.credential_store().has(platform_id)
    except CredentialStoreError as error:
        log.warning("platform=%s cannot tell whether a key is stored: %s", platform_id, error)
        return None
    panel_state.key_stored[platform_id] = stored
    return stored


def store_description() -> str:
    """Return a sentence saying where keys are kept."""
    if panel_state.key_store_name:
        return panel_state.key_store_name
    store = service.credential_store()
    if store.available:
        text = f"Keys are kept in the system keyring ({store.backend_name()})."
    else:
        text = "No system keyring was found, so keys last until Blender closes."
    panel_state.key_store_name = text
    return text


def save_key(platform_id: str, value: str) -> None:
    """Store ``value`` as the platform's key. Raises ``CredentialStoreError``, or
    ``PolicyError`` when the studio policy forbids changing keys."""
    policy.check_key_change(platform_id)
    service.credential_store().set(platform_id, Secret(value))
    panel_state.key_stored[platform_id] = True
    panel_state.key_checks.pop(platform_id, None)
    log.info("platform=%s key stored", platform_id)


def delete_key(platform_id: str) -> None:
    """Remove the platform's key. Raises ``CredentialStoreError``, or
    ``PolicyError`` when the studio policy forbids changing keys."""
    policy.check_key_change(platform_id)
    service.credential_store().delete(platform_id)
    panel_state.key_stored[platform_id] = False
    panel_state.key_checks.pop(platform_id, None)
    log.info("platform=%s key removed", platform_id)
