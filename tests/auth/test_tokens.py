"""The token manager and its requests auth: storage, renewal before expiry and after
a 401, one refresh for many threads, and sign-out after a rejected refresh."""

from __future__ import annotations

import json
import logging
import threading
from urllib.parse import urlsplit

import pytest
import requests
from fakes.oauth import CLIENT_ID, CLIENT_SECRET
from meshport.core import errors, oauth, tokens
from meshport.core.secrets import Secret
from meshport.core.tokens import BearerTokenAuth, TokenManager, TokenSet

from auth.network import closed_port

THREADS = 16


def _code_flow(base_url: str, clock) -> oauth.AuthorizationCodeFlow:
    endpoints = oauth.endpoints_for("sketchfab", base_url=base_url)
    return oauth.AuthorizationCodeFlow(
        CLIENT_ID, Secret(CLIENT_SECRET), port=0, endpoints=endpoints, clock=clock.time
    )


@pytest.fixture
def code_flow(oauth_server, clock):
    with _code_flow(oauth_server.url, clock) as flow:
        yield flow


def _signed_in_manager(server, store, flow, clock, expires_in: float) -> TokenManager:
    manager = TokenManager(
        "sketchfab", store, refresh=flow.refresh, label="Sketchfab", clock=clock.time
    )
    response = server.issue_tokens()
    response["expires_in"] = expires_in
    manager.save(TokenSet.from_token_response(response, now=clock.time()))
    return manager


def _run_threads(target, count: int = THREADS) -> tuple[list, list]:
    """Start ``count`` threads at once on ``target``; return results and errors."""
    barrier = threading.Barrier(count)
    results, failures = [], []
    lock = threading.Lock()

    def run():
        barrier.wait()
        try:
            value = target()
        except Exception as error:
            with lock:
                failures.append(error)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, failures


def test_tokens_stored_as_one_json_value(oauth_server, credential_store, code_flow, clock):
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 3600)

    stored = credential_store.get(tokens.token_entry("sketchfab"))
    value = json.loads(stored.reveal())

    assert value["access_token"] == manager.access_token().reveal()
    assert value["refresh_token"] in oauth_server.valid_refresh_tokens
    assert value["expires_at"] == clock.time() + 3600
    assert credential_store.get("sketchfab") is None


def test_tokens_load_from_store_in_new_manager(oauth_server, credential_store, code_flow, clock):
    first = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 3600)

    second = TokenManager("sketchfab", credential_store, clock=clock.time)

    assert second.signed_in()
    assert second.access_token() == first.access_token()


def test_token_renewed_shortly_before_expiry(oauth_server, credential_store, code_flow, clock):
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 3600)
    first = manager.access_token()

    clock.sleep(3600 - tokens.REFRESH_MARGIN_SECONDS / 2)
    renewed = manager.access_token()

    assert renewed != first
    assert oauth_server.refresh_count == 1
    assert manager.access_token() == renewed
    assert oauth_server.refresh_count == 1


def test_renewed_tokens_replace_stored_value(oauth_server, credential_store, code_flow, clock):
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 0)

    renewed = manager.access_token()

    stored = json.loads(credential_store.get(tokens.token_entry("sketchfab")).reveal())
    assert stored["access_token"] == renewed.reveal()


def test_sixteen_threads_on_expired_token_refresh_once(
    oauth_server, credential_store, code_flow, clock
):
    oauth_server.refresh_delay = 0.2
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 0)

    results, failures = _run_threads(manager.access_token)

    assert failures == []
    assert len(results) == THREADS
    assert oauth_server.refresh_count == 1
    assert len(set(results)) == 1
    assert results[0].reveal() in oauth_server.valid_access_tokens


def test_sixteen_threads_on_401_refresh_once(oauth_server, credential_store, code_flow, clock):
    oauth_server.refresh_delay = 0.2
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 3600)
    oauth_server.revoke_access_tokens()
    session = requests.Session()
    session.auth = BearerTokenAuth(manager, urlsplit(oauth_server.url).netloc)

    def fetch():
        return session.get(oauth_server.url + "/api/me", timeout=10).status_code

    results, failures = _run_threads(fetch)
    session.close()

    assert failures == []
    assert results == [200] * THREADS
    assert oauth_server.refresh_count == 1


def test_second_401_after_renewal_is_returned(oauth_server, credential_store, code_flow, clock):
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 3600)
    oauth_server.revoke_access_tokens()
    oauth_server.access_token_lifetime = 3600
    session = requests.Session()
    session.auth = BearerTokenAuth(manager, urlsplit(oauth_server.url).netloc)
    # Every new token is revoked as soon as it is issued, so the retry gets 401 too.
    issue = oauth_server.issue_tokens

    def issue_revoked():
        answer = issue()
        oauth_server.revoke_access_tokens()
        return answer

    oauth_server.issue_tokens = issue_revoked

    response = session.get(oauth_server.url + "/api/me", timeout=10)
    session.close()

    assert response.status_code == 401
    assert oauth_server.refresh_count == 1
    assert len(response.history) == 1


def test_failed_refresh_signs_out(oauth_server, credential_store, code_flow, clock):
    oauth_server.reject_refresh = True
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 0)

    with pytest.raises(errors.AuthenticationError) as caught:
        manager.access_token()

    assert "signed you out of Sketchfab" in caught.value.message
    assert "Sign in again" in caught.value.message
    assert credential_store.get(tokens.token_entry("sketchfab")) is None
    assert not manager.signed_in()


def test_failed_refresh_does_not_retry(oauth_server, credential_store, code_flow, clock):
    oauth_server.reject_refresh = True
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 0)
    with pytest.raises(errors.AuthenticationError):
        manager.access_token()

    with pytest.raises(errors.AuthenticationError) as caught:
        manager.access_token()

    assert "signed you out" in caught.value.message
    assert oauth_server.refresh_count == 1


def test_sixteen_threads_on_rejected_refresh_try_once(
    oauth_server, credential_store, code_flow, clock
):
    oauth_server.reject_refresh = True
    oauth_server.refresh_delay = 0.2
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 0)

    results, failures = _run_threads(manager.access_token)

    assert results == []
    assert len(failures) == THREADS
    assert all(isinstance(failure, errors.AuthenticationError) for failure in failures)
    assert oauth_server.refresh_count == 1


def test_401_without_refresh_token_signs_out(oauth_server, credential_store, clock):
    manager = TokenManager("github", credential_store, label="GitHub", clock=clock.time)
    issued = oauth_server.issue_tokens()
    manager.save(TokenSet(Secret(issued["access_token"])))
    oauth_server.revoke_access_tokens()
    session = requests.Session()
    session.auth = BearerTokenAuth(manager, urlsplit(oauth_server.url).netloc)

    with pytest.raises(errors.AuthenticationError) as caught:
        session.get(oauth_server.url + "/api/me", timeout=10)
    session.close()

    assert "signed you out of GitHub" in caught.value.message
    assert credential_store.get(tokens.token_entry("github")) is None


def test_unreachable_refresh_keeps_unexpired_token(oauth_server, credential_store, clock):
    with _code_flow(f"http://127.0.0.1:{closed_port()}", clock) as offline_flow:
        manager = _signed_in_manager(oauth_server, credential_store, offline_flow, clock, 60)
        current = TokenSet.from_secret(credential_store.get(tokens.token_entry("sketchfab")))

        token = manager.access_token()

    assert token == current.access_token
    assert manager.signed_in()


def test_unreachable_refresh_of_expired_token_keeps_sign_in(oauth_server, credential_store, clock):
    with _code_flow(f"http://127.0.0.1:{closed_port()}", clock) as offline_flow:
        manager = _signed_in_manager(oauth_server, credential_store, offline_flow, clock, 0)

        with pytest.raises(errors.NetworkError):
            manager.access_token()

    assert credential_store.get(tokens.token_entry("sketchfab")) is not None


def test_not_signed_in_raises_authentication_error(credential_store, clock):
    manager = TokenManager("sketchfab", credential_store, label="Sketchfab", clock=clock.time)

    with pytest.raises(errors.AuthenticationError) as caught:
        manager.access_token()

    assert "not signed in" in caught.value.message


def test_damaged_stored_tokens_count_as_signed_out(credential_store, clock):
    credential_store.set(tokens.token_entry("sketchfab"), Secret("{not json"))

    manager = TokenManager("sketchfab", credential_store, clock=clock.time)

    assert not manager.signed_in()


def test_bearer_auth_skips_other_hosts(oauth_server, credential_store, code_flow, clock):
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 3600)
    auth = BearerTokenAuth(manager, "api.example.test")
    request = requests.Request("GET", oauth_server.url + "/api/me").prepare()

    prepared = auth(request)

    assert "Authorization" not in prepared.headers


def test_tokens_never_logged(oauth_server, credential_store, code_flow, clock, caplog):
    caplog.set_level(logging.DEBUG)
    manager = _signed_in_manager(oauth_server, credential_store, code_flow, clock, 0)
    renewed = manager.access_token()
    oauth_server.reject_refresh = True
    clock.sleep(7200)
    with pytest.raises(errors.AuthenticationError):
        manager.access_token()

    logged = caplog.text + repr(manager) + repr(BearerTokenAuth(manager, "host"))
    for token in oauth_server.valid_access_tokens | oauth_server.valid_refresh_tokens:
        assert token not in logged
    assert renewed.reveal() not in logged
    assert CLIENT_SECRET not in logged
