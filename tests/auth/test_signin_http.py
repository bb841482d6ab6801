"""Platform clients after an OAuth sign-in: requests carry the Bearer token, the token
renews itself through the refresh grant, and an API key stays the default without one.
"""

from __future__ import annotations

import threading
import time

import pytest
from fakes.oauth import CLIENT_ID, CLIENT_SECRET
from fakes.sketchfab import FakeSketchfab
from meshport.core import credentials, errors, tokens
from meshport.core.credentials import OAuthApp
from meshport.core.http import PlatformHttp
from meshport.core.secrets import Secret
from meshport.core.tokens import TokenSet
from meshport.platforms.sketchfab import SketchfabClient

THREADS = 16
API_KEY = "personal-api-key-0123456789abcdef"


@pytest.fixture
def process_store(credential_store, oauth_server, monkeypatch):
    """The memory-backed store as the process's store, with Sketchfab's OAuth app
    and client secret stored and its OAuth URL pointed at the fake server."""
    monkeypatch.setenv("MESHPORT_SKETCHFAB_OAUTH_URL", oauth_server.url)
    credentials.save_oauth_app(credential_store, "sketchfab", OAuthApp(CLIENT_ID, 0))
    credential_store.set(tokens.client_secret_entry("sketchfab"), Secret(CLIENT_SECRET))
    credentials.use_process_store(credential_store)
    yield credential_store
    credentials.use_process_store(None)


def _store_tokens(server, store, expires_in: float) -> TokenSet:
    response = server.issue_tokens()
    response["expires_in"] = expires_in
    issued = TokenSet.from_token_response(response, now=time.time())
    store.set(tokens.token_entry("sketchfab"), issued.to_secret())
    return issued


def _api_http(server, make_settings, key: str | None = None) -> PlatformHttp:
    """A client whose API is the fake OAuth server's ``/api``, which accepts only
    access tokens the server issued."""
    settings = make_settings(
        {"sketchfab": server.url + "/api"}, {"sketchfab": key} if key else None
    )
    return PlatformHttp(
        settings.platform("sketchfab"), settings, label="Sketchfab", auth_scheme="Token"
    )


def _authorization_headers(server) -> list[str]:
    seen_requests = [seen for seen in list(server.requests_seen) if seen.path == "/api/me"]
    return [seen.headers.get("Authorization", "") for seen in seen_requests]


def test_signed_in_client_sends_bearer_token(oauth_server, process_store, make_settings):
    issued = _store_tokens(oauth_server, process_store, 3600)
    http = _api_http(oauth_server, make_settings, key=API_KEY)

    body = http.get_json("me")
    http.close()

    assert body == {"username": "tester"}
    assert http.has_key
    assert _authorization_headers(oauth_server) == [f"Bearer {issued.access_token.reveal()}"]


def test_api_key_used_when_not_signed_in(oauth_server, process_store, make_settings):
    http = _api_http(oauth_server, make_settings, key=API_KEY)

    with pytest.raises(errors.AuthenticationError):
        http.get_json("me")
    http.close()

    assert _authorization_headers(oauth_server) == [f"Token {API_KEY}"]


def test_expired_token_refreshed_once_before_request(oauth_server, process_store, make_settings):
    issued = _store_tokens(oauth_server, process_store, 0)
    http = _api_http(oauth_server, make_settings)

    first = http.get_json("me")
    second = http.get_json("me")
    http.close()

    headers = _authorization_headers(oauth_server)
    assert first == second == {"username": "tester"}
    assert oauth_server.refresh_count == 1
    assert f"Bearer {issued.access_token.reveal()}" not in headers
    assert len(set(headers)) == 1


def test_renewed_token_saved_to_store(oauth_server, process_store, make_settings):
    issued = _store_tokens(oauth_server, process_store, 0)
    http = _api_http(oauth_server, make_settings)

    http.get_json("me")
    http.close()

    stored = TokenSet.from_secret(process_store.get(tokens.token_entry("sketchfab")))
    assert stored.access_token != issued.access_token
    assert stored.access_token.reveal() in oauth_server.valid_access_tokens


def test_sixteen_clients_on_401_refresh_once(oauth_server, process_store, make_settings):
    oauth_server.refresh_delay = 0.2
    _store_tokens(oauth_server, process_store, 3600)
    oauth_server.revoke_access_tokens()
    barrier = threading.Barrier(THREADS)
    results, failures = [], []

    def fetch():
        http = _api_http(oauth_server, make_settings)
        barrier.wait()
        try:
            results.append(http.get_json("me"))
        except Exception as error:
            failures.append(error)
        finally:
            http.close()

    threads = [threading.Thread(target=fetch) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert results == [{"username": "tester"}] * THREADS
    assert oauth_server.refresh_count == 1


def test_rejected_refresh_signs_out_with_message(oauth_server, process_store, make_settings):
    oauth_server.reject_refresh = True
    _store_tokens(oauth_server, process_store, 0)
    http = _api_http(oauth_server, make_settings)

    with pytest.raises(errors.AuthenticationError) as caught:
        http.get_json("me")
    http.close()

    assert "signed you out of Sketchfab" in caught.value.message
    assert process_store.get(tokens.token_entry("sketchfab")) is None
    assert oauth_server.refresh_count == 1


def test_without_client_secret_401_signs_out(oauth_server, process_store, make_settings):
    process_store.delete(tokens.client_secret_entry("sketchfab"))
    _store_tokens(oauth_server, process_store, 3600)
    oauth_server.revoke_access_tokens()
    http = _api_http(oauth_server, make_settings)

    with pytest.raises(errors.AuthenticationError) as caught:
        http.get_json("me")
    http.close()

    assert "Sign in again" in caught.value.message
    assert oauth_server.refresh_count == 0
    assert process_store.get(tokens.token_entry("sketchfab")) is None


def test_platform_without_oauth_ignores_tokens(oauth_server, process_store, make_settings):
    process_store.set(tokens.token_entry("polyhaven"), Secret('{"access_token": "x"}'))
    settings = make_settings({"polyhaven": oauth_server.url + "/api"})

    http = PlatformHttp(
        settings.platform("polyhaven"), settings, label="Poly Haven", auth_scheme="Token"
    )
    http.close()

    assert not http.has_key


def test_sketchfab_client_checks_bearer_token(oauth_server, process_store, make_settings):
    issued = _store_tokens(oauth_server, process_store, 3600)
    with FakeSketchfab(api_key=issued.access_token.reveal()) as fake:
        settings = make_settings({"sketchfab": fake.api_base})
        client = SketchfabClient(settings)

        account = client.validate_key()
        client.close()
        headers = [seen.headers.get("Authorization", "") for seen in fake.requests_to("/v3/me")]

    assert account.username == fake.username
    assert headers == [f"Bearer {issued.access_token.reveal()}"]
