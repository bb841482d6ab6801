"""The OAuth device authorization grant against a fake GitHub OAuth server."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from fakes.oauth import CLIENT_ID, USER_CODE
from meshport.core import errors, oauth
from meshport.core.secrets import Secret

from auth.network import closed_port


def _flow(server, clock, **options) -> oauth.DeviceFlow:
    endpoints = oauth.endpoints_for("github", base_url=server.url)
    return oauth.DeviceFlow(
        options.pop("client_id", CLIENT_ID),
        endpoints=endpoints,
        sleep=clock.sleep,
        clock=clock.time,
        **options,
    )


def _poll_forms(server) -> list[dict[str, list[str]]]:
    return [
        parse_qs(seen.body.decode())
        for seen in server.requests_seen
        if seen.path == "/login/oauth/access_token"
    ]


def test_device_flow_shows_code_and_returns_tokens(oauth_server, clock):
    oauth_server.device_answers = ["authorization_pending", "authorization_pending", "grant"]
    shown = []

    with _flow(oauth_server, clock) as flow:
        tokens = flow.sign_in(shown.append)

    assert shown[0].user_code == USER_CODE
    assert shown[0].verification_uri == f"{oauth_server.url}/login/device"
    assert tokens.access_token.reveal() in oauth_server.valid_access_tokens
    assert oauth_server.device_polls == 3


def test_device_flow_waits_interval_before_each_poll(oauth_server, clock):
    oauth_server.device_answers = ["authorization_pending", "authorization_pending", "grant"]

    with _flow(oauth_server, clock) as flow:
        flow.sign_in(lambda code: None)

    assert clock.sleeps == [5, 5, 5]


def test_device_flow_slow_down_adds_five_seconds(oauth_server, clock):
    oauth_server.device_answers = ["slow_down", "authorization_pending", "slow_down", "grant"]

    with _flow(oauth_server, clock) as flow:
        flow.sign_in(lambda code: None)

    assert clock.sleeps == [5, 10, 10, 15]


def test_device_flow_slow_down_honours_server_interval(oauth_server, clock):
    oauth_server.device_answers = ["slow_down", "grant"]
    oauth_server.slow_down_interval = 30

    with _flow(oauth_server, clock) as flow:
        flow.sign_in(lambda code: None)

    assert clock.sleeps == [5, 30]


def test_device_flow_access_denied(oauth_server, clock):
    oauth_server.device_answers = ["authorization_pending", "access_denied"]

    with _flow(oauth_server, clock) as flow, pytest.raises(errors.AuthenticationError) as caught:
        flow.sign_in(lambda code: None)

    assert "denied" in caught.value.message
    assert caught.value.platform == "github"


def test_device_flow_expired_token_answer(oauth_server, clock):
    oauth_server.device_answers = ["authorization_pending", "expired_token"]

    with _flow(oauth_server, clock) as flow, pytest.raises(errors.AuthenticationError) as caught:
        flow.sign_in(lambda code: None)

    assert "expired" in caught.value.message
    assert "sign-in again" in caught.value.message


def test_device_flow_stops_polling_when_code_lifetime_ends(oauth_server, clock):
    oauth_server.device_answers = ["authorization_pending"]
    oauth_server.device_expires_in = 12

    with _flow(oauth_server, clock) as flow, pytest.raises(errors.AuthenticationError) as caught:
        flow.sign_in(lambda code: None)

    assert "expired" in caught.value.message
    assert oauth_server.device_polls == 2


def test_device_flow_reads_rfc_style_400_errors(oauth_server, clock):
    oauth_server.error_status = 400
    oauth_server.device_answers = ["authorization_pending", "slow_down", "grant"]

    with _flow(oauth_server, clock) as flow:
        tokens = flow.sign_in(lambda code: None)

    assert tokens.access_token.reveal() in oauth_server.valid_access_tokens
    assert clock.sleeps == [5, 5, 10]


def test_device_flow_sends_no_client_secret(oauth_server, clock):
    oauth_server.device_answers = ["authorization_pending", "grant"]

    with _flow(oauth_server, clock) as flow:
        flow.sign_in(lambda code: None)

    forms = _poll_forms(oauth_server)
    assert len(forms) == 2
    for form in forms:
        assert "client_secret" not in form
        assert form["grant_type"] == [oauth.DEVICE_CODE_GRANT]
        assert form["client_id"] == [CLIENT_ID]


def test_device_flow_cancel_stops_polling(oauth_server, clock):
    oauth_server.device_answers = ["authorization_pending"]
    polls_before_cancel = 2

    def should_cancel() -> bool:
        return oauth_server.device_polls >= polls_before_cancel

    with _flow(oauth_server, clock) as flow, pytest.raises(errors.JobCancelledError):
        flow.sign_in(lambda code: None, should_cancel=should_cancel)

    assert oauth_server.device_polls == polls_before_cancel


def test_device_flow_unknown_client_id_is_rejected(oauth_server, clock):
    with _flow(oauth_server, clock, client_id="not-registered") as flow:
        with pytest.raises(errors.AuthenticationError) as caught:
            flow.sign_in(lambda code: None)

    assert "device code request" in caught.value.message


def test_device_flow_requires_client_id(oauth_server, clock):
    with pytest.raises(errors.ConfigurationError) as caught:
        _flow(oauth_server, clock, client_id="  ")

    assert "client id" in caught.value.message


def test_device_flow_gives_up_after_repeated_network_failures(clock):
    endpoints = oauth.endpoints_for("github", base_url=f"http://127.0.0.1:{closed_port()}")
    code = oauth.DeviceCode(Secret("device-code"), USER_CODE, "http://127.0.0.1/", 900, 5)

    with oauth.DeviceFlow(
        CLIENT_ID, endpoints=endpoints, sleep=clock.sleep, clock=clock.time
    ) as flow:
        with pytest.raises(errors.NetworkError) as caught:
            flow.wait_for_token(code)

    assert caught.value.kind == "network"
    assert clock.sleeps == [5, 10, 20, 40]


def test_endpoints_default_to_documented_urls():
    github = oauth.endpoints_for("github")
    sketchfab = oauth.endpoints_for("sketchfab")

    assert github.device_code_url == "https://github.com/login/device/code"
    assert github.token_url == "https://github.com/login/oauth/access_token"
    assert sketchfab.authorize_url == "https://sketchfab.com/oauth2/authorize/"
    assert sketchfab.token_url == "https://sketchfab.com/oauth2/token/"


def test_endpoints_follow_oauth_url_variable(monkeypatch):
    monkeypatch.setenv("MESHPORT_GITHUB_OAUTH_URL", "http://127.0.0.1:9/")

    endpoints = oauth.endpoints_for("github")

    assert endpoints.device_code_url == "http://127.0.0.1:9/login/device/code"
    assert endpoints.token_url == "http://127.0.0.1:9/login/oauth/access_token"


def test_endpoints_reject_platform_without_oauth():
    with pytest.raises(errors.ConfigurationError) as caught:
        oauth.endpoints_for("polyhaven")

    assert "polyhaven" in caught.value.message
