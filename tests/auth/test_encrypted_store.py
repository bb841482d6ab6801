"""The passphrase-protected key file used where no keyring backend exists."""

from __future__ import annotations

import os
import stat

import pytest
from keyring.backends import fail
from meshport.core import errors
from meshport.core.credentials import CredentialStore
from meshport.core.secrets import Secret

PASSPHRASE = Secret("correct horse battery staple")
API_KEY = "sketchfab-key-5f0e1d2c3b4a69788796a5b4c3d2e1f0"
TOKENS = '{"access_token": "access-token-e3b0c44298fc1c14", "refresh_token": "r-9af8"}'


@pytest.fixture
def key_file(tmp_path):
    return tmp_path / "user-data" / "keys.json"


def _filled_store(key_file) -> CredentialStore:
    store = CredentialStore.with_encrypted_file(key_file, PASSPHRASE, create=True)
    store.set("sketchfab", Secret(API_KEY))
    store.set("sketchfab:oauth", Secret(TOKENS))
    return store


def test_secrets_round_trip_through_new_store(key_file):
    _filled_store(key_file)

    reopened = CredentialStore.with_encrypted_file(key_file, PASSPHRASE)

    assert reopened.get("sketchfab") == Secret(API_KEY)
    assert reopened.get("sketchfab:oauth") == Secret(TOKENS)
    assert reopened.get("github") is None
    assert reopened.uses_encrypted_file


def test_delete_removes_entry_from_file(key_file):
    _filled_store(key_file).delete("sketchfab")

    reopened = CredentialStore.with_encrypted_file(key_file, PASSPHRASE)

    assert reopened.get("sketchfab") is None
    assert reopened.get("sketchfab:oauth") == Secret(TOKENS)


def test_file_contains_no_plain_secret(key_file):
    _filled_store(key_file)

    content = key_file.read_bytes()

    assert API_KEY.encode() not in content
    assert b"access-token-e3b0c44298fc1c14" not in content
    assert b"sketchfab" not in content
    assert PASSPHRASE.reveal().encode() not in content


def test_file_readable_by_owner_only(key_file):
    _filled_store(key_file)

    mode = stat.S_IMODE(key_file.stat().st_mode)

    assert mode == 0o600


def test_no_temporary_files_left(key_file):
    _filled_store(key_file)

    assert sorted(path.name for path in key_file.parent.iterdir()) == [key_file.name]


def test_wrong_passphrase_rejected_without_change(key_file):
    _filled_store(key_file)
    before = key_file.read_bytes()
    modified = key_file.stat().st_mtime_ns

    with pytest.raises(errors.CredentialStoreError) as caught:
        CredentialStore.with_encrypted_file(key_file, Secret("not the passphrase"))

    assert "passphrase does not open" in caught.value.message
    assert str(key_file) in caught.value.message
    assert key_file.read_bytes() == before
    assert key_file.stat().st_mtime_ns == modified


def test_wrong_passphrase_not_in_message(key_file):
    _filled_store(key_file)

    with pytest.raises(errors.CredentialStoreError) as caught:
        CredentialStore.with_encrypted_file(key_file, Secret("typo passphrase 42"))

    assert "typo passphrase 42" not in caught.value.message


def test_missing_file_needs_create(key_file):
    with pytest.raises(errors.CredentialStoreError) as caught:
        CredentialStore.with_encrypted_file(key_file, PASSPHRASE)

    assert "no encrypted key file" in caught.value.message
    assert not key_file.exists()


def test_short_passphrase_rejected_on_create(key_file):
    with pytest.raises(errors.CredentialStoreError) as caught:
        CredentialStore.with_encrypted_file(key_file, Secret("short"), create=True)

    assert "shorter than" in caught.value.message
    assert not key_file.exists()


def test_damaged_file_named_in_error(key_file):
    key_file.parent.mkdir(parents=True)
    key_file.write_text("{not json", encoding="utf-8")

    with pytest.raises(errors.CredentialStoreError) as caught:
        CredentialStore.with_encrypted_file(key_file, PASSPHRASE)

    assert "cannot be used" in caught.value.message
    assert key_file.read_text(encoding="utf-8") == "{not json"


def test_session_store_moves_secrets_into_file(key_file):
    store = CredentialStore(backend=fail.Keyring())
    store.set("sketchfab", Secret(API_KEY))

    store.open_encrypted_file(key_file, PASSPHRASE, create=True)

    reopened = CredentialStore.with_encrypted_file(key_file, PASSPHRASE)
    assert store.available
    assert store.uses_encrypted_file
    assert reopened.get("sketchfab") == Secret(API_KEY)


def test_keyring_store_keeps_keyring(key_file, keyring_backend):
    store = CredentialStore(backend=keyring_backend)

    with pytest.raises(errors.CredentialStoreError) as caught:
        store.open_encrypted_file(key_file, PASSPHRASE, create=True)

    assert "system keyring" in caught.value.message
    assert not store.uses_encrypted_file
    assert not key_file.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_folder_created_private(key_file):
    _filled_store(key_file)

    mode = stat.S_IMODE(key_file.parent.stat().st_mode)

    assert mode & 0o077 == 0
