"""CredentialStore against the real Secret Service and with no keyring backend."""

import os
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest
from jaraco.classes.properties import classproperty
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked, NoKeyringError
from meshport.core.credentials import CredentialStore, key_for_platform
from meshport.core.errors import CredentialStoreError
from meshport.core.secrets import Secret
from support import REPO_ROOT, require


def secret_service_problem() -> str:
    """Return why keyring's Secret Service backend is unusable here, or ""."""
    from keyring.backends import SecretService

    try:
        usable = SecretService.Keyring.priority > 0
    except Exception as error:  # keyring reports an unusable backend by raising here
        return f"{type(error).__name__}: {error}"
    return "" if usable else "priority 0"


@pytest.fixture
def secret_service_store():
    """A CredentialStore on the Secret Service of the D-Bus session `make test` starts."""
    from keyring.backends import SecretService

    problem = secret_service_problem()
    require(not problem, f"no Secret Service keyring ({problem}); run the suite with `make test`")
    return CredentialStore(backend=SecretService.Keyring())


@pytest.fixture
def entry():
    """A unique entry name, removed from the keyring after the test."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    if shutil.which("secret-tool"):
        subprocess.run(
            ["secret-tool", "clear", "service", "meshport", "username", name],
            capture_output=True,
            check=False,
        )


def secret_tool_lookup(entry: str) -> str:
    require(
        shutil.which("secret-tool") is not None, "secret-tool (libsecret-tools) is not installed"
    )
    found = subprocess.run(
        ["secret-tool", "lookup", "service", "meshport", "username", entry],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip()


def test_default_store_uses_secret_service(secret_service_store):
    store = CredentialStore()
    assert store.available
    assert "SecretService" in store.backend_name()


def test_key_round_trips_through_secret_service(secret_service_store, entry):
    secret_service_store.set(entry, Secret("sk-test-round-trip"))
    fresh_store = CredentialStore()
    assert fresh_store.get(entry) == Secret("sk-test-round-trip")
    assert fresh_store.has(entry)


def test_key_is_stored_under_service_and_platform(secret_service_store, entry):
    secret_service_store.set(entry, Secret("sk-visible-to-secret-tool"))
    assert secret_tool_lookup(entry) == "sk-visible-to-secret-tool"


def test_set_replaces_stored_key(secret_service_store, entry):
    secret_service_store.set(entry, Secret("sk-first"))
    secret_service_store.set(entry, Secret("sk-second"))
    assert secret_service_store.get(entry) == Secret("sk-second")


def test_delete_removes_the_key(secret_service_store, entry):
    secret_service_store.set(entry, Secret("sk-to-delete"))
    secret_service_store.delete(entry)
    assert secret_service_store.get(entry) is None
    assert not secret_service_store.has(entry)
    assert secret_tool_lookup(entry) == ""


def test_has_is_false_for_unknown_entry(secret_service_store, entry):
    assert not secret_service_store.has(entry)


def test_delete_of_missing_key_is_quiet(secret_service_store, entry):
    secret_service_store.delete(entry)
    assert secret_service_store.get(entry) is None


def test_empty_key_is_rejected(secret_service_store, entry):
    with pytest.raises(CredentialStoreError, match="empty"):
        secret_service_store.set(entry, Secret(""))


def test_environment_key_wins_over_stored_key(monkeypatch):
    store = CredentialStore(backend=fail.Keyring())
    store.set("sketchfab", Secret("stored"))
    monkeypatch.setenv("MESHPORT_SKETCHFAB_KEY", "from-environment")
    assert key_for_platform("sketchfab", store) == Secret("from-environment")
    assert key_for_platform("sketchfab", store, allow_environment=False) == Secret("stored")


def test_fail_backend_means_session_only():
    store = CredentialStore(backend=fail.Keyring())
    assert not store.available
    assert "session only" in store.backend_name()


def not_viable(cls) -> float:
    raise RuntimeError("a test backend; keyring must never choose it by itself")


class NoKeyringBackend(KeyringBackend):
    """A backend that raises NoKeyringError on use, as keyring's fail backend does."""

    # Every KeyringBackend subclass joins keyring's automatic choice unless reading
    # its priority raises.
    priority = classproperty(not_viable)

    def get_password(self, service, username):
        raise NoKeyringError("no keyring behind this backend")

    def set_password(self, service, username, password):
        raise NoKeyringError("no keyring behind this backend")

    def delete_password(self, service, username):
        raise NoKeyringError("no keyring behind this backend")


def test_no_keyring_error_falls_back_to_memory():
    store = CredentialStore(backend=NoKeyringBackend())
    store.set("sketchfab", Secret("sk-kept-in-memory"))
    assert not store.available
    assert store.get("sketchfab") == Secret("sk-kept-in-memory")


class LockedBackend(KeyringBackend):
    """A backend whose collection is locked and whose errors echo their arguments."""

    priority = classproperty(not_viable)

    def get_password(self, service, username):
        raise KeyringLocked(f"collection locked while reading {username}")

    def set_password(self, service, username, password):
        raise KeyringLocked(f"collection locked while writing {password}")

    def delete_password(self, service, username):
        raise KeyringLocked("collection locked")


def test_locked_keyring_error_never_contains_key():
    store = CredentialStore(backend=LockedBackend())
    with pytest.raises(CredentialStoreError) as raised:
        store.set("sketchfab", Secret("sk-must-not-leak"))
    assert "sk-must-not-leak" not in str(raised.value)
    assert "sketchfab" in str(raised.value)
    assert "KeyringLocked" in str(raised.value)


def test_locked_keyring_read_error_names_platform():
    store = CredentialStore(backend=LockedBackend())
    with pytest.raises(CredentialStoreError, match="could not read the key for polyhaven"):
        store.get("polyhaven")


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
    print("has before set", store.has("sketchfab"))
    store.set("sketchfab", Secret("session-only-key"))
    print("same store", store.get("sketchfab") == Secret("session-only-key"))
    print("has after set", store.has("sketchfab"))
    print("new store", CredentialStore().get("sketchfab"))
    store.delete("sketchfab")
    print("after delete", store.get("sketchfab"))
    """
)


@pytest.mark.parametrize(
    "setting",
    ["no D-Bus session", "fail backend configured"],
)
def test_without_backend_keys_live_for_the_session_only(tmp_path, setting):
    environment = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    environment.pop("PYTHON_KEYRING_BACKEND", None)
    if setting == "no D-Bus session":
        environment["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path}/no-bus"
    else:
        environment["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

    result = subprocess.run(
        [sys.executable, "-c", NO_BACKEND_SCRIPT, str(REPO_ROOT)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "available False" in lines
    assert any(line.startswith("backend none (session only") for line in lines), lines
    assert "has before set False" in lines
    assert "same store True" in lines
    assert "has after set True" in lines
    assert "new store None" in lines
    assert "after delete None" in lines
    assert "session-only-key" not in result.stderr
