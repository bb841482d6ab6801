"""TLS trust choice and failure classification against real local servers: an HTTPS
server with a self-signed certificate, a closed proxy port, and a fake HTTP server."""

from __future__ import annotations

import ssl
import time

import pytest
import requests
from fakes.server import FakeServer, Reply
from meshport.core import errors, tls

from auth.network import HttpsServer, closed_port


@pytest.fixture
def https_server(self_signed_certificate):
    certificate, key = self_signed_certificate
    with HttpsServer(certificate, key) as server:
        yield server


def _get(session: requests.Session, url: str, **options) -> requests.Response:
    """GET ``url`` with ``verify`` passed per request, as ``tls.apply_to_session`` requires
    of its callers."""
    options.setdefault("timeout", 5)
    return session.get(url, verify=session.verify, **options)


def _failure(session: requests.Session, url: str, **options) -> errors.MeshportError:
    with pytest.raises(requests.RequestException) as caught:
        _get(session, url, **options)
    return tls.classify_exception(caught.value, label="Sketchfab", platform_id="sketchfab")


def test_self_signed_certificate_fails_with_tls_message(https_server):
    session = tls.new_session("Meshport-test")

    failure = _failure(session, https_server.url)

    assert isinstance(failure, errors.TlsCertificateError)
    assert failure.kind == "tls_certificate"
    assert "could not be verified (self-signed certificate)" in failure.message
    assert tls.CA_BUNDLE_VARIABLE in failure.message


def test_custom_ca_bundle_trusts_certificate(https_server, self_signed_certificate):
    certificate, _ = self_signed_certificate
    session = tls.new_session("Meshport-test", ca_bundle=str(certificate))

    response = _get(session, https_server.url)

    assert response.json() == {"status": "ok"}


def test_ca_bundle_variable_wins_over_preference(
    https_server, self_signed_certificate, monkeypatch, tmp_path
):
    certificate, _ = self_signed_certificate
    monkeypatch.setenv(tls.CA_BUNDLE_VARIABLE, str(certificate))

    session = tls.new_session("Meshport-test", ca_bundle=str(tmp_path / "absent.pem"))

    assert _get(session, https_server.url).status_code == 200


def test_custom_ca_bundle_wins_over_requests_variable(
    https_server, self_signed_certificate, monkeypatch
):
    certificate, _ = self_signed_certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    session = tls.new_session("Meshport-test", ca_bundle=str(certificate))

    assert _get(session, https_server.url).status_code == 200


def test_system_trust_uses_openssl_default_file(https_server, self_signed_certificate, monkeypatch):
    try:
        import truststore  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("truststore is installed, so the system choice uses it instead of a file")
    certificate, _ = self_signed_certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))

    choice = tls.choose_trust("system")
    session = tls.new_session("Meshport-test", ca_bundle="system")

    assert choice.verify == str(certificate)
    assert _get(session, https_server.url).status_code == 200


def test_missing_ca_bundle_is_configuration_error(tmp_path):
    missing = tmp_path / "company-ca.pem"

    with pytest.raises(errors.ConfigurationError) as caught:
        tls.choose_trust(str(missing))

    assert str(missing) in caught.value.message
    assert "does not exist" in caught.value.message


def test_ca_bundle_without_certificates_is_rejected(tmp_path):
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")

    with pytest.raises(errors.ConfigurationError) as caught:
        tls.choose_trust(str(not_pem))

    assert str(not_pem) in caught.value.message
    assert "PEM" in caught.value.message


def test_apply_to_session_keeps_checks_and_proxies_on(self_signed_certificate):
    certificate, _ = self_signed_certificate
    session = requests.Session()
    session.trust_env = False

    for choice in (tls.choose_trust(), tls.choose_trust(str(certificate))):
        tls.apply_to_session(session, choice)
        assert session.trust_env is True
        assert session.verify is not False


def test_closed_proxy_gives_proxy_message(https_server, monkeypatch):
    proxy = f"http://proxy-user:proxy-password@127.0.0.1:{closed_port()}"
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    session = tls.new_session("Meshport-test")

    failure = _failure(session, https_server.url)

    assert isinstance(failure, errors.ProxyFailureError)
    assert failure.kind == "proxy"
    assert "HTTPS_PROXY" in failure.message
    assert "the proxy http://REDACTED@127.0.0.1:" in failure.message
    assert "proxy-password" not in failure.message


def test_closed_port_gives_network_message():
    session = tls.new_session("Meshport-test")

    failure = _failure(session, f"http://127.0.0.1:{closed_port()}/v3/me")

    assert type(failure) is errors.NetworkError
    assert "cannot reach 127.0.0.1:" in failure.message
    assert "ConnectionRefusedError" in failure.message


def test_silent_server_gives_timeout_message():
    server = FakeServer()

    def stall(info):
        time.sleep(1.0)
        return Reply.json({})

    server.route("GET", r"/slow", stall)
    with server:
        failure = _failure(tls.new_session("Meshport-test"), server.url + "/slow", timeout=0.2)

    assert type(failure) is errors.NetworkError
    assert "did not answer in time" in failure.message


@pytest.mark.parametrize(
    ("reply", "error_class", "words"),
    [
        (Reply.json({"detail": "Invalid token."}, 401), errors.AuthenticationError, "rejected"),
        (
            Reply.json(
                {"detail": "Invalid token."},
                401,
                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'},
            ),
            errors.KeyExpiredError,
            "has expired",
        ),
        (Reply.json({"message": "Token expired"}, 401), errors.KeyExpiredError, "has expired"),
        (Reply.json({}, 429, {"Retry-After": "30"}), errors.RateLimitedError, "rate limited"),
        (
            Reply.json({}, 403, {"X-RateLimit-Remaining": "0"}),
            errors.RateLimitedError,
            "rate limited",
        ),
        (Reply.json({}, 503), errors.PlatformUnavailableError, "is down"),
        (Reply.json({}, 502), errors.PlatformUnavailableError, "is down"),
        (Reply(407, b""), errors.ProxyFailureError, "proxy requires authentication"),
    ],
)
def test_classify_response(reply, error_class, words):
    server = FakeServer()
    server.route("GET", r"/v3/me", lambda info: reply)
    with server:
        response = requests.get(server.url + "/v3/me", timeout=5)

    failure = tls.classify_response(response, label="Sketchfab", platform_id="sketchfab")

    assert type(failure) is error_class
    assert words in failure.message
    assert failure.status == reply.status


def test_classify_response_rate_limit_carries_wait():
    server = FakeServer()
    server.route("GET", r"/v3/me", lambda info: Reply.json({}, 429, {"Retry-After": "30"}))
    with server:
        response = requests.get(server.url + "/v3/me", timeout=5)

    failure = tls.classify_response(response, label="Sketchfab")

    assert failure.retry_after == 30.0


def test_classify_response_leaves_other_statuses():
    server = FakeServer()
    server.route("GET", r"/v3/me", lambda info: Reply.json({"detail": "Not found."}, 404))
    with server:
        response = requests.get(server.url + "/v3/me", timeout=5)

    assert tls.classify_response(response, label="Sketchfab") is None


def test_tls_error_without_verification_reason():
    error = requests.exceptions.SSLError(ssl.SSLError(1, "wrong version number"))

    failure = tls.classify_exception(error, label="GitHub")

    assert isinstance(failure, errors.TlsCertificateError)
    assert "TLS handshake failed" in failure.message
