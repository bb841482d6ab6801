"""OAuth sign-in from the preferences, driven without a window: the job runner's
drain replaces Blender's timer, and fake OAuth servers replace GitHub and
Sketchfab."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests
from fakes.oauth import CLIENT_ID, CLIENT_SECRET, USER_CODE, FakeOAuthServer
from meshport.blender import signin
from meshport.core import credentials, errors, tokens

from blender.layout_recorder import LayoutRecorder

DRAIN_TIMEOUT = 30.0
PASSPHRASE = "a long enough passphrase"


@pytest.fixture
def oauth_server(monkeypatch):
    with FakeOAuthServer() as server:
        server.device_interval = 1
        monkeypatch.setenv("MESHPORT_GITHUB_OAUTH_URL", server.url)
        monkeypatch.setenv("MESHPORT_SKETCHFAB_OAUTH_URL", server.url)
        yield server


@pytest.fixture
def sign_in_store(session_keys, monkeypatch):
    """The session-only store, with sign-in state and token managers reset after."""
    monkeypatch.delenv("MESHPORT_POLICY", raising=False)
    signin.reset()
    yield session_keys
    signin.reset()
    credentials.use_process_store(None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _drain_until_finished(runner, job, seen_phases: list[str], platform_id: str) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while not (job.finished and runner.events.empty()):
        runner.drain(max_seconds=0.05)
        seen_phases.append(signin.sign_in_state(platform_id).phase)
        assert time.monotonic() < deadline, "the sign-in job did not finish"
        time.sleep(0.02)
    runner.drain(max_seconds=0.05)


def _browser(url: str) -> None:
    """Follow the authorization page's redirect to the listener, as a browser does."""
    threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10}).start()


def _deny_key_changes(tmp_path, monkeypatch) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'default_role = "artist"\n\n[roles.artist]\nallow_key_changes = false\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MESHPORT_POLICY", str(path))


def test_device_flow_shows_code_and_stores_tokens(oauth_server, sign_in_store, runner):
    oauth_server.device_answers = ["authorization_pending", "grant"]
    signin.save_oauth_app("github", CLIENT_ID)
    phases: list[str] = []

    job = signin.start_sign_in(runner, "github", online_access=True)
    state = signin.sign_in_state("github")
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while state.phase != signin.ENTER_CODE and not job.finished:
        runner.drain(max_seconds=0.05)
        assert time.monotonic() < deadline, "no code was shown"
        time.sleep(0.02)
    shown_code = (state.user_code, state.verification_uri)
    _drain_until_finished(runner, job, phases, "github")

    stored = tokens.TokenSet.from_secret(sign_in_store.get(tokens.token_entry("github")))
    assert shown_code == (USER_CODE, f"{oauth_server.url}/login/device")
    assert state.phase == signin.SIGNED_IN
    assert stored.access_token.reveal() in oauth_server.valid_access_tokens
    assert signin.signed_in("github")


def test_device_flow_denied_shows_message(oauth_server, sign_in_store, runner):
    oauth_server.device_answers = ["access_denied"]
    signin.save_oauth_app("github", CLIENT_ID)

    job = signin.start_sign_in(runner, "github", online_access=True)
    _drain_until_finished(runner, job, [], "github")

    state = signin.sign_in_state("github")
    assert state.phase == signin.FAILED
    assert "denied" in state.text
    assert not signin.signed_in("github")


def test_device_flow_cancel_returns_to_idle(oauth_server, sign_in_store, runner):
    oauth_server.device_answers = ["authorization_pending"]
    signin.save_oauth_app("github", CLIENT_ID)

    job = signin.start_sign_in(runner, "github", online_access=True)
    signin.cancel_sign_in("github")
    _drain_until_finished(runner, job, [], "github")

    state = signin.sign_in_state("github")
    assert state.phase == signin.IDLE
    assert state.text == "Sign-in cancelled."


def test_authorization_code_opens_browser_and_stores_tokens(
    oauth_server, sign_in_store, runner
):
    signin.save_oauth_app(
        "sketchfab", CLIENT_ID, client_secret=CLIENT_SECRET, redirect_port=_free_port()
    )
    opened: list[str] = []

    def open_url(url: str) -> None:
        opened.append(url)
        _browser(url)

    job = signin.start_sign_in(runner, "sketchfab", online_access=True, open_url=open_url)
    _drain_until_finished(runner, job, [], "sketchfab")

    state = signin.sign_in_state("sketchfab")
    assert state.phase == signin.SIGNED_IN, state.text
    assert len(opened) == 1
    assert opened[0].startswith(f"{oauth_server.url}/oauth2/authorize/?")
    assert signin.signed_in("sketchfab")


def test_client_secret_stored_in_credential_store(sign_in_store):
    signin.save_oauth_app(
        "sketchfab", CLIENT_ID, client_secret=CLIENT_SECRET, redirect_port=_free_port()
    )

    stored = sign_in_store.get("sketchfab:oauth-client-secret")

    assert stored.reveal() == CLIENT_SECRET
    assert CLIENT_SECRET not in sign_in_store.get("sketchfab:oauth-app").reveal()


def test_authorization_code_needs_registered_port(sign_in_store):
    with pytest.raises(errors.ConfigurationError) as caught:
        signin.save_oauth_app("sketchfab", CLIENT_ID, client_secret=CLIENT_SECRET)

    assert "redirect port 0" in caught.value.message


def test_sign_in_without_app_asks_for_client_id(oauth_server, sign_in_store, runner):
    with pytest.raises(errors.ConfigurationError) as caught:
        signin.start_sign_in(runner, "github", online_access=True)

    assert "no OAuth app is set" in caught.value.message


def test_sign_in_offline_sends_nothing(oauth_server, sign_in_store, runner):
    signin.save_oauth_app("github", CLIENT_ID)

    with pytest.raises(errors.OfflineError):
        signin.start_sign_in(runner, "github", online_access=False)

    assert list(oauth_server.requests_seen) == []


def test_policy_blocks_sign_in(oauth_server, sign_in_store, runner, tmp_path, monkeypatch):
    signin.save_oauth_app("github", CLIENT_ID)
    _deny_key_changes(tmp_path, monkeypatch)

    with pytest.raises(errors.PolicyError) as caught:
        signin.start_sign_in(runner, "github", online_access=True)

    assert "Studio policy blocked" in caught.value.message
    assert list(oauth_server.requests_seen) == []


def test_policy_blocks_sign_out(oauth_server, sign_in_store, tmp_path, monkeypatch):
    manager = signin.token_manager("github")
    manager.save(tokens.TokenSet.from_token_response(oauth_server.issue_tokens(), time.time()))
    _deny_key_changes(tmp_path, monkeypatch)

    with pytest.raises(errors.PolicyError):
        signin.sign_out("github")

    assert signin.signed_in("github")


def test_sign_out_deletes_tokens(oauth_server, sign_in_store):
    manager = signin.token_manager("github")
    manager.save(tokens.TokenSet.from_token_response(oauth_server.issue_tokens(), time.time()))

    signin.sign_out("github")

    assert sign_in_store.get(tokens.token_entry("github")) is None
    assert not signin.signed_in("github")


def test_key_file_keeps_session_keys(sign_in_store, user_resources):
    sign_in_store.set("sketchfab", credentials.Secret("session-key-0123456789"))

    created = signin.open_key_file(PASSPHRASE, confirmation=PASSPHRASE)

    reopened = credentials.CredentialStore.with_encrypted_file(
        signin.key_file_path(), credentials.Secret(PASSPHRASE)
    )
    assert created
    assert reopened.get("sketchfab").reveal() == "session-key-0123456789"
    assert b"session-key-0123456789" not in signin.key_file_path().read_bytes()


def test_key_file_confirmation_must_match(sign_in_store, user_resources):
    with pytest.raises(errors.CredentialStoreError):
        signin.open_key_file(PASSPHRASE, confirmation="something else")

    assert not signin.key_file_path().exists()


def _drawn(platform_id: str) -> LayoutRecorder:
    layout = LayoutRecorder()
    signin.draw_signin(layout, None, platform_id)
    return layout


def test_draw_without_app_offers_app_button(sign_in_store):
    layout = _drawn("github")

    assert layout.recording.operators("meshport.set_oauth_app")
    assert not layout.recording.operators("meshport.sign_in")


def test_draw_with_app_offers_sign_in(sign_in_store):
    signin.save_oauth_app("github", CLIENT_ID)

    layout = _drawn("github")

    assert layout.recording.operators("meshport.sign_in")[0].values == {"platform": "github"}
    assert "not signed in" in layout.recording.joined_text()


@pytest.mark.parametrize(
    "phase", [signin.STARTING, signin.ENTER_CODE, signin.WAITING_FOR_BROWSER, signin.FAILED]
)
def test_draw_each_phase(sign_in_store, phase):
    signin.save_oauth_app("github", CLIENT_ID)
    state = signin.sign_in_state("github")
    state.phase, state.text = phase, "state text"
    state.user_code, state.verification_uri = USER_CODE, "https://example.test/device"

    text = _drawn("github").recording.joined_text()

    assert (USER_CODE in text) == (phase == signin.ENTER_CODE)


def test_draw_key_storage_offers_key_file(sign_in_store):
    layout = LayoutRecorder()

    signin.draw_key_storage(layout)

    assert layout.recording.operators("meshport.open_key_file")


def test_draw_signin_section_draws_both_platforms(sign_in_store):
    layout = LayoutRecorder()

    signin.draw_signin_section(layout, None)

    platforms = [op.values["platform"] for op in layout.recording.operators("meshport.set_oauth_app")]
    assert platforms == ["github", "sketchfab"]
