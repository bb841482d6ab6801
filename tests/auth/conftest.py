"""Fixtures for sign-in, tokens, TLS and policy: a fake OAuth server, a fake clock, a
credential store over an in-memory keyring backend, and a self-signed certificate."""

from __future__ import annotations

import datetime
import ipaddress
import threading

import keyring.backend
import pytest
from fakes.oauth import FakeOAuthServer

from pipeline.clocks import FakeClock

NETWORK_VARIABLES = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "MESHPORT_CA_BUNDLE",
    "MESHPORT_POLICY",
)


@pytest.fixture(autouse=True)
def _clean_network_environment(monkeypatch):
    """Clear proxy, CA bundle and policy variables so the machine's own settings do
    not leak into a test."""
    for name in NETWORK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_auth_state():
    yield
    from meshport.core import deprecation, tokens

    tokens.forget_managers()
    deprecation.NOTICES.clear()


@pytest.fixture
def oauth_server():
    with FakeOAuthServer() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps passwords in a dict, so tests can read what was
    stored."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get_password(self, service, username):
        with self._lock:
            return self.passwords.get((service, username))

    def set_password(self, service, username, password):
        with self._lock:
            self.passwords[(service, username)] = password

    def delete_password(self, service, username):
        with self._lock:
            if self.passwords.pop((service, username), None) is None:
                raise keyring.errors.PasswordDeleteError(username)


class _KeyringStore:
    """The ``CredentialStore`` interface over one keyring backend, used until
    ``core.credentials`` exists in the checkout."""

    SERVICE = "meshport"

    def __init__(self, backend: MemoryKeyring):
        self.backend = backend

    def get(self, platform_id):
        from meshport.core.secrets import Secret

        value = self.backend.get_password(self.SERVICE, platform_id)
        return Secret(value) if value is not None else None

    def set(self, platform_id, secret):
        self.backend.set_password(self.SERVICE, platform_id, secret.reveal())

    def delete(self, platform_id):
        try:
            self.backend.delete_password(self.SERVICE, platform_id)
        except keyring.errors.PasswordDeleteError:
            pass

    def has(self, platform_id):
        return self.get(platform_id) is not None


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def credential_store(keyring_backend):
    try:
        from meshport.core.credentials import CredentialStore
    except ImportError:
        # NOTE: core.credentials is written in parallel; until it lands, the tests use
        # this stand-in with the same get, set, delete and has methods.
        return _KeyringStore(keyring_backend)
    return CredentialStore(backend=keyring_backend)


@pytest.fixture(scope="session")
def self_signed_certificate(tmp_path_factory):
    """Write a self-signed certificate for 127.0.0.1 and its key; return both paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Meshport test server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    certificate_path = folder / "server.pem"
    key_path = folder / "server.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path
