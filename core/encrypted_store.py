"""A passphrase-protected file of secrets, for machines without a keyring backend.

The file is JSON with the key derivation parameters, a random salt and one Fernet
token (AES-128-CBC with an HMAC-SHA256, from the ``cryptography`` package). The token
holds every entry as one encrypted JSON object, so neither the secrets nor the entry
names are readable without the passphrase. The Fernet key comes from scrypt over the
passphrase and the salt.

Every change rewrites the file atomically: a temporary file in the same folder with
mode 0600, flushed to disk, then renamed over the old one. A wrong passphrase fails
Fernet's HMAC check before anything is written, so the file is never overwritten with
data that the old passphrase cannot open.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import tempfile
import threading
from pathlib import Path

from .errors import CredentialStoreError
from .secrets import Secret

log = logging.getLogger(__name__)

FILE_FORMAT = "meshport-encrypted-keys"
FILE_VERSION = 1
# scrypt cost as RFC 7914 section 2 suggests for interactive use: 2**15 rounds with
# r=8 use 32 MiB of memory per derivation.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
MIN_PASSPHRASE_LENGTH = 8
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def _crypto():
    """Import the parts of ``cryptography`` this module uses, or raise a clear error."""
    try:
        from cryptography.fernet import Fernet, InvalidToken
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    except ImportError:
        raise CredentialStoreError(
            "The encrypted key file needs the cryptography package, which this Blender "
            "does not provide. Keys are kept for this session only."
        ) from None
    return Fernet, InvalidToken, Scrypt


def _fernet_for(passphrase: Secret, salt: bytes, n: int, r: int, p: int):
    Fernet, _, Scrypt = _crypto()
    kdf = Scrypt(salt=salt, length=32, n=n, r=r, p=p)
    key = kdf.derive(passphrase.reveal().encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


class EncryptedFileKeyring:
    """A keyring-like backend (``get_password``, ``set_password``,
    ``delete_password``) over one encrypted file.

    Opening an existing file checks the passphrase at once. A missing file is created
    on the first ``set_password``, or by ``create``. Raises ``CredentialStoreError``
    for a wrong passphrase, a damaged file or a write failure; no message contains a
    secret or the passphrase.
    """

    def __init__(self, path: Path, passphrase: Secret, *, create: bool = False):
        self.path = Path(path)
        self._lock = threading.Lock()
        if not passphrase:
            raise CredentialStoreError("The passphrase is empty. Type the passphrase again.")
        if self.path.exists():
            self._fernet, self._salt, self._entries = self._open(passphrase)
        elif not create:
            raise CredentialStoreError(
                f"There is no encrypted key file at {self.path}. Create one first."
            )
        else:
            if len(passphrase.reveal()) < MIN_PASSPHRASE_LENGTH:
                raise CredentialStoreError(
                    f"The passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters. "
                    "Choose a longer one."
                )
            self._salt = secrets.token_bytes(SALT_BYTES)
            self._fernet = _fernet_for(passphrase, self._salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
            self._entries = {}
            self._write()
            log.info("created the encrypted key file %s", self.path)

    @property
    def name(self) -> str:
        return f"encrypted file {self.path}"

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self._entries.get(_entry_key(service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self._entries[_entry_key(service, username)] = password
            self._write()

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            if self._entries.pop(_entry_key(service, username), None) is not None:
                self._write()

    def _open(self, passphrase: Secret):
        _, InvalidToken, _ = _crypto()
        header = self._read_header()
        fernet = _fernet_for(
            passphrase, header["salt"], header["n"], header["r"], header["p"]
        )
        try:
            plain = fernet.decrypt(header["token"])
        except InvalidToken:
            raise CredentialStoreError(
                f"The passphrase does not open the encrypted key file {self.path}. Type it "
                "again; the file was not changed."
            ) from None
        try:
            entries = json.loads(plain)
        except ValueError:
            entries = None
        if not isinstance(entries, dict):
            raise self._damaged("its decrypted content is not a JSON object")
        return fernet, header["salt"], entries

    def _read_header(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != FILE_FORMAT or data.get("version") != FILE_VERSION:
                raise self._damaged("it is not a Meshport key file of a known version")
            kdf = data["kdf"]
            return {
                "salt": base64.b64decode(data["salt"]),
                "n": int(kdf["n"]),
                "r": int(kdf["r"]),
                "p": int(kdf["p"]),
                "token": data["token"].encode("ascii"),
            }
        except CredentialStoreError:
            raise
        except OSError as error:
            raise CredentialStoreError(
                f"The encrypted key file {self.path} could not be read ({error.strerror})."
            ) from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise self._damaged("its header is not valid JSON with the expected fields") from None

    def _write(self) -> None:
        """Encrypt every entry and replace the file atomically, with mode 0600."""
        token = self._fernet.encrypt(json.dumps(self._entries).encode("utf-8"))
        document = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
            "salt": base64.b64encode(self._salt).decode("ascii"),
            "token": token.decode("ascii"),
        }
        try:
            self.path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            _replace_atomically(self.path, json.dumps(document, indent=1).encode("utf-8"))
        except OSError as error:
            raise CredentialStoreError(
                f"The encrypted key file {self.path} could not be written "
                f"({error.strerror}). Check that its folder is writable."
            ) from None

    def _damaged(self, reason: str) -> CredentialStoreError:
        return CredentialStoreError(
            f"The encrypted key file {self.path} cannot be used because {reason}. Move it "
            "away and create a new one."
        )


def _entry_key(service: str, username: str) -> str:
    return f"{service}/{username}"


def _replace_atomically(path: Path, content: bytes) -> None:
    # mkstemp creates the file with mode 0600 on POSIX, before any byte is written.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
