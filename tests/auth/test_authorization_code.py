"""The authorization-code grant: a real browser-like request to the one-shot redirect
listener, and the code exchange and refresh at a fake Sketchfab OAuth server."""

from __future__ import annotations

import itertools
import socket
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from fakes.oauth import CLIENT_ID, CLIENT_SECRET
from meshport.core import errors, oauth
from meshport.core.secrets import Secret
from meshport.core.tokens import TokenSet


class Browser:
    """Opens URLs on its own thread, as a real browser does, and keeps the responses.

    ``before`` lists paths on the redirect listener to request before the URL itself,
    and ``rewrite`` may change the URL, for example to forge the state.
    """

    def __init__(self, before=(), rewrite=None):
        self.before = before
        self.rewrite = rewrite
        self.responses: list[requests.Response] = []
        self._threads: list[threading.Thread] = []

    def open(self, url: str) -> bool:
        thread = threading.Thread(target=self._visit, args=(url,), daemon=True)
        self._threads.append(thread)
        thread.start()
        return True

    def finish(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)

    def _visit(self, url: str) -> None:
        listener = _listener_origin(url)
        if self.rewrite:
            url = self.rewrite(url)
        for path in self.before:
            self.responses.append(requests.get(listener + path, timeout=5))
        self.responses.append(requests.get(url, timeout=5))


def _listener_origin(authorize_url: str) -> str:
    redirect_uri = parse_qs(urlsplit(authorize_url).query)["redirect_uri"][0]
    parts = urlsplit(redirect_uri)
    return f"{parts.scheme}://{parts.netloc}"


def _flow(server, port=0, **options) -> oauth.AuthorizationCodeFlow:
    endpoints = oauth.endpoints_for("sketchfab", base_url=server.url)
    return oauth.AuthorizationCodeFlow(
        options.pop("client_id", CLIENT_ID),
        Secret(options.pop("client_secret", CLIENT_SECRET)),
        port=port,
        endpoints=endpoints,
        **options,
    )


def _counting_clock(step: float = 1.0):
    ticks = itertools.count()
    return lambda: next(ticks) * step


def test_code_flow_signs_in_through_redirect_listener(oauth_server):
    browser = Browser()

    with _flow(oauth_server) as flow:
        tokens = flow.sign_in(browser.open, wait_seconds=10)
    browser.finish()

    assert tokens.access_token.reveal() in oauth_server.valid_access_tokens
    assert tokens.refresh_token.reveal() in oauth_server.valid_refresh_tokens
    assert browser.responses[-1].status_code == 200
    assert "close this tab" in browser.responses[-1].text


def test_code_flow_sends_pkce_challenge_and_redirect_uri(oauth_server):
    browser = Browser()

    with _flow(oauth_server, callback_path="/meshport") as flow:
        flow.sign_in(browser.open, wait_seconds=10)
    browser.finish()

    authorize = next(
        seen for seen in oauth_server.requests_seen if seen.path == "/oauth2/authorize/"
    )
    assert authorize.query["code_challenge_method"] == ["S256"]
    assert authorize.query["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert authorize.query["redirect_uri"][0].endswith("/meshport")
    assert len(authorize.query["state"][0]) >= 32


def test_code_flow_rejects_wrong_state(oauth_server):
    def forge_state(url: str) -> str:
        query = parse_qs(urlsplit(url).query)
        redirect_uri = query["redirect_uri"][0]
        return f"{redirect_uri}?{urlencode({'code': 'stolen-code', 'state': 'forged'})}"

    browser = Browser(rewrite=forge_state)

    with _flow(oauth_server) as flow, pytest.raises(errors.AuthenticationError) as caught:
        flow.sign_in(browser.open, wait_seconds=10)
    browser.finish()

    assert "state" in caught.value.message
    assert browser.responses[-1].status_code == 400
    assert not any(seen.path == "/oauth2/token/" for seen in oauth_server.requests_seen)


def test_code_flow_times_out_without_callback(oauth_server):
    with _flow(oauth_server) as flow, pytest.raises(errors.AuthenticationError) as caught:
        flow.sign_in(lambda url: True, wait_seconds=3, listener_clock=_counting_clock())

    assert "within 3 s" in caught.value.message
    assert "redirect URI" in caught.value.message


def test_code_flow_reports_denied_authorization(oauth_server):
    oauth_server.deny_authorization = True
    browser = Browser()

    with _flow(oauth_server) as flow, pytest.raises(errors.AuthenticationError) as caught:
        flow.sign_in(browser.open, wait_seconds=10)
    browser.finish()

    assert "denied" in caught.value.message
    assert browser.responses[-1].status_code == 400


def test_code_flow_cancel_stops_listener(oauth_server):
    with _flow(oauth_server) as flow, pytest.raises(errors.JobCancelledError):
        flow.sign_in(lambda url: True, wait_seconds=10, should_cancel=lambda: True)


def test_listener_ignores_other_paths_before_callback(oauth_server):
    browser = Browser(before=("/favicon.ico",))

    with _flow(oauth_server) as flow:
        tokens = flow.sign_in(browser.open, wait_seconds=10)
    browser.finish()

    assert browser.responses[0].status_code == 404
    assert browser.responses[1].status_code == 200
    assert tokens.access_token.reveal() in oauth_server.valid_access_tokens


def test_listener_closes_after_one_callback():
    listener = oauth.RedirectListener(0)
    port = listener.port
    url = f"{listener.redirect_uri}?{urlencode({'code': 'abc', 'state': 'expected'})}"
    visit = threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 5})
    visit.start()

    code = listener.wait_for_code("expected", timeout=30)
    visit.join(timeout=10)

    assert code.reveal() == "abc"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_listener_reports_port_in_use():
    with socket.socket() as occupied:
        occupied.bind(("127.0.0.1", 0))
        occupied.listen()
        port = occupied.getsockname()[1]

        with pytest.raises(errors.ConfigurationError) as caught:
            oauth.RedirectListener(port)

    assert f"127.0.0.1:{port}" in caught.value.message


def test_code_exchange_rejects_wrong_client_secret(oauth_server):
    browser = Browser()

    with _flow(oauth_server, client_secret="wrong-secret") as flow:
        with pytest.raises(errors.AuthenticationError) as caught:
            flow.sign_in(browser.open, wait_seconds=10)
    browser.finish()

    assert "client id or secret" in caught.value.message
    assert "wrong-secret" not in caught.value.message


def test_code_flow_requires_client_secret(oauth_server):
    with pytest.raises(errors.ConfigurationError) as caught:
        _flow(oauth_server, client_secret="")

    assert "client secret" in caught.value.message


def test_refresh_grant_returns_new_tokens(oauth_server):
    issued = TokenSet.from_token_response(oauth_server.issue_tokens(), now=0.0)

    with _flow(oauth_server) as flow:
        renewed = flow.refresh(issued.refresh_token)

    assert renewed.access_token != issued.access_token
    assert renewed.access_token.reveal() in oauth_server.valid_access_tokens
    assert oauth_server.refresh_count == 1


def test_refresh_grant_rejection_is_authentication_error(oauth_server):
    oauth_server.reject_refresh = True
    issued = TokenSet.from_token_response(oauth_server.issue_tokens(), now=0.0)

    with _flow(oauth_server) as flow, pytest.raises(errors.AuthenticationError) as caught:
        flow.refresh(issued.refresh_token)

    assert "refresh token" in caught.value.message
    assert issued.refresh_token.reveal() not in caught.value.message


def test_token_response_keeps_previous_refresh_token():
    previous = Secret("refresh-previous")

    tokens = TokenSet.from_token_response(
        {"access_token": "new", "expires_in": 60}, now=100.0, previous_refresh=previous
    )

    assert tokens.refresh_token == previous
    assert tokens.expires_at == 160.0


def test_token_response_without_access_token_names_field():
    with pytest.raises(errors.ResponseFormatError) as caught:
        TokenSet.from_token_response({"token_type": "bearer"}, now=0.0)

    assert "access_token" in caught.value.message
