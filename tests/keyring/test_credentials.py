"""CredentialStore against the real Secret Service and with no keyring backend."""

import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from meshport.core.credentials import CredentialStore, key_for_platform
from meshport.core.errors import CredentialStoreError
from meshport.core.secrets import Secret
from support import REPO_ROOT, require


@pytest.fixture
def secret_service_store():
    """A CredentialStore on the Secret Service that ``make test`` starts."""
    from keyring.backends import SecretService

    backend = SecretService.Keyring()
    try:
        usable = backend.priority > 0
        problem = ""
    except Exception as error:  # keyring reports an unusable backend by raising here
        usable, problem = False, str(error)
    require(usable, f"no Secret Service keyring ({problem}); run the suite with `make test`")
    return CredentialStore(backend=backend)


@pytest.fixture
def entry():
    """A unique entry name, removed after the test."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["secret-tool", "clear", "service", "meshport", "username", name],
                   capture_output=True)


def test_key_round_trips_through_secret_service(secret_service_store, entry):
    secret_service_store.set(entry, Secret("sk-test-round-trip"))
    fresh_store = CredentialStore(backend=type(secret_service_store._backend)())
    assert fresh_store.get(entry) == Secret("sk-test-round-trip")
    assert fresh_store.has(entry)


def test_key_is_visible_to_secret_tool(secret_service_store, entry):
    require(
        subprocess.run(["which", "secret-tool"], capture_output=True).returncode == 0,
        "secret-tool (libsecret-tools) is not installed",
    )
    secret_service_store.set(entry, Secret("sk-visible-to-secret-tool"))
    found = subprocess.run(
        ["secret-tool", "lookup", "service", "meshport", "username", entry],
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == "sk-visible-to-secret-tool"


def test_delete_removes_the_key(secret_service_store, entry):
    secret_service_store.set(entry, Secret("sk-to-delete"))
    secret_service_store.delete(entry)
    assert secret_service_store.get(entry) is None
    assert not secret_service_store.has(entry)


def test_delete_of_missing_key_is_quiet(secret_service_store, entry):
    secret_service_store.delete(entry)
    assert secret_service_store.get(entry) is None


def test_empty_key_is_rejected(secret_service_store, entry):
    with pytest.raises(CredentialStoreError, match="empty"):
        secret_service_store.set(entry, Secret(""))


def test_environment_key_wins_over_stored_key(monkeypatch):
    from keyring.backends import fail

    store = CredentialStore(backend=fail.Keyring())
    store.set("sketchfab", Secret("stored"))
    monkeypatch.setenv("MESHPORT_SKETCHFAB_KEY", "from-environment")
    assert key_for_platform("sketchfab", store) == Secret("from-environment")
    assert key_for_platform("sketchfab", store, allow_environment=False) == Secret("stored")


NO_BACKEND_SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location(
        "meshport", sys.argv[1] + "/__init__.py", submodule_search_locations=[sys.argv[1]])
    module = importlib.util.module_from_spec(spec)
    sys.modules["meshport"] = module
    spec.loader.exec_module(module)
    from meshport.core.credentials import CredentialStore
    from meshport.core.secrets import Secret
    store = CredentialStore()
    print("available", store.available)
    print("backend", store.backend_name())
    store.set("sketchfab", Secret("session-only-key"))
    print("same store", store.get("sketchfab") == Secret("session-only-key"))
    print("new store", CredentialStore().get("sketchfab"))
    """
)


def test_without_backend_keys_live_for_the_session_only(tmp_path):
    environment = dict(os.environ)
    environment.pop("DBUS_SESSION_BUS_ADDRESS", None)
    environment["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path}/no-bus"
    environment["XDG_CONFIG_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", NO_BACKEND_SCRIPT, str(REPO_ROOT)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "available False" in result.stdout
    assert "session only" in result.stdout
    assert "same store True" in result.stdout
    assert "new store None" in result.stdout
    assert "session-only-key" not in result.stderr
