"""OAuth sign-in as the preferences show it: the user's OAuth app, the sign-in in
progress, sign-out, and the encrypted key file for machines without a keyring.

GitHub signs in with the device flow: a worker requests a code, the preferences show
it with the verification page, and the worker polls until the user approves.
Sketchfab signs in with the authorization-code flow: a worker binds the one-shot
redirect listener, the main thread opens the authorization page in the browser, and
the worker waits for the redirect. Either way the tokens go to the credential store
through the platform's ``TokenManager``, and the studio policy's ``allow_key_changes``
applies as it does to API keys.

Meshport ships no client id or secret: the user or studio enters the ones of an OAuth
app they registered. State here is plain Python that workers update under a lock;
only the main thread touches ``bpy``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..core import credentials, oauth, policy, tokens
from ..core.credentials import OAuthApp
from ..core.errors import (
    ConfigurationError,
    CredentialStoreError,
    JobCancelledError,
    MeshportError,
    OfflineError,
)
from ..core.jobs import Job, JobContext, JobRunner
from ..core.secrets import Secret
from . import service
from .state import panel_state

log = logging.getLogger(__name__)

DEVICE_FLOW = "device"
AUTHORIZATION_CODE = "authorization_code"
SIGN_IN_FLOWS = {"github": DEVICE_FLOW, "sketchfab": AUTHORIZATION_CODE}

# How long the redirect listener waits for the browser, in seconds.
BROWSER_WAIT_SECONDS = 300.0
KEY_FILE_NAME = "keys.encrypted.json"

IDLE = "idle"
STARTING = "starting"
ENTER_CODE = "enter_code"
WAITING_FOR_BROWSER = "waiting_for_browser"
SIGNED_IN = "signed_in"
FAILED = "failed"
RUNNING_PHASES = (STARTING, ENTER_CODE, WAITING_FOR_BROWSER)


@dataclass
class SignInState:
    """The sign-in of one platform as the preferences show it."""

    phase: str = IDLE
    text: str = ""
    user_code: str = ""
    verification_uri: str = ""
    pending_url: str = ""
    job: Job | None = None

    @property
    def running(self) -> bool:
        return self.phase in RUNNING_PHASES


_lock = threading.Lock()
_states: dict[str, SignInState] = {}
_apps: dict[str, OAuthApp | None] = {}


def sign_in_state(platform_id: str) -> SignInState:
    with _lock:
        return _states.setdefault(platform_id, SignInState())


def reset() -> None:
    """Cancel running sign-ins and forget what the preferences show, for disabling
    the add-on and for tests."""
    with _lock:
        states = list(_states.values())
        _states.clear()
        _apps.clear()
    for state in states:
        if state.job is not None:
            state.job.cancel()


def credential_store() -> credentials.CredentialStore:
    """Return the add-on's credential store, made the one platform clients read OAuth
    tokens from, so a session-only or encrypted-file store serves both."""
    store = service.credential_store()
    if credentials.process_store() is not store:
        credentials.use_process_store(store)
    return store


def token_manager(platform_id: str) -> tokens.TokenManager:
    return credentials.token_manager(platform_id, credential_store())


def label(platform_id: str) -> str:
    return oauth.PLATFORM_LABELS.get(platform_id, platform_id)


# ---------------------------------------------------------------- the OAuth app


def oauth_app(platform_id: str) -> OAuthApp | None:
    """Return the platform's stored OAuth app, read from the store once per session."""
    with _lock:
        if platform_id in _apps:
            return _apps[platform_id]
    try:
        app = credentials.load_oauth_app(credential_store(), platform_id)
    except CredentialStoreError as error:
        log.warning("platform=%s OAuth app not read: %s", platform_id, error.message)
        return None
    with _lock:
        _apps[platform_id] = app
    return app


def save_oauth_app(
    platform_id: str, client_id: str, *, client_secret: str = "", redirect_port: int = 0
) -> None:
    """Store the OAuth app the user registered. An empty ``client_secret`` keeps the
    stored one.

    Raises ``PolicyError`` when the studio policy forbids key changes,
    ``ConfigurationError`` for a missing value, and ``CredentialStoreError``.
    """
    policy.check_key_change(platform_id)
    client_id = client_id.strip()
    flow = _flow_of(platform_id)
    if not client_id:
        raise ConfigurationError(
            f"{label(platform_id)}: the client id is empty. Copy it from the settings of "
            "the OAuth app you registered.",
            platform=platform_id,
        )
    store = credential_store()
    secret_entry = tokens.client_secret_entry(platform_id)
    if flow == AUTHORIZATION_CODE:
        _check_redirect_port(platform_id, redirect_port)
        if not client_secret.strip() and not store.has(secret_entry):
            raise ConfigurationError(
                f"{label(platform_id)}: the client secret is empty. Copy it from the "
                "settings of the OAuth app you registered.",
                platform=platform_id,
            )
    app = OAuthApp(client_id, redirect_port if flow == AUTHORIZATION_CODE else 0)
    credentials.save_oauth_app(store, platform_id, app)
    if client_secret.strip():
        store.set(secret_entry, Secret(client_secret.strip()))
    credentials.reset_refresher(platform_id)
    with _lock:
        _apps[platform_id] = app
    log.info("platform=%s OAuth app stored", platform_id)


def _flow_of(platform_id: str) -> str:
    flow = SIGN_IN_FLOWS.get(platform_id)
    if flow is None:
        known = ", ".join(SIGN_IN_FLOWS)
        raise ConfigurationError(
            f"Meshport has no OAuth sign-in for '{platform_id}'. It is available for: {known}."
        )
    return flow


def _check_redirect_port(platform_id: str, port: int) -> None:
    if not 1024 <= port <= 65535:
        raise ConfigurationError(
            f"{label(platform_id)}: the redirect port {port} is not between 1024 and "
            "65535. Enter the port of the redirect URI http://127.0.0.1:<port>/callback "
            "you registered for the OAuth app.",
            platform=platform_id,
        )


# ---------------------------------------------------------------- sign-in and sign-out


def signed_in(platform_id: str) -> bool | None:
    """Return whether OAuth tokens are stored, or None when the store cannot be read."""
    try:
        return token_manager(platform_id).signed_in()
    except CredentialStoreError as error:
        log.warning("platform=%s sign-in state not read: %s", platform_id, error.message)
        return None


def start_sign_in(
    runner: JobRunner,
    platform_id: str,
    *,
    online_access: bool,
    open_url=None,
    ca_bundle: str | None = None,
    redraw=None,
) -> Job:
    """Start the platform's sign-in on a worker and return its job.

    ``open_url(url)`` opens the authorization page on the main thread (default: the
    system browser through Blender); ``redraw()`` runs on the main thread whenever the
    state changes. Raises ``PolicyError``, ``OfflineError`` and ``ConfigurationError``
    before any request is sent.
    """
    flow = _flow_of(platform_id)
    policy.check_key_change(platform_id)
    if not online_access:
        raise OfflineError(
            f'{label(platform_id)}: online access is off, so Meshport cannot sign in. Turn '
            'on "Allow Online Access" in Edit > Preferences > System.',
            platform=platform_id,
        )
    state = sign_in_state(platform_id)
    if state.running:
        raise ConfigurationError(
            f"{label(platform_id)}: a sign-in is already running. Finish or cancel it first."
        )
    app = oauth_app(platform_id)
    if app is None:
        raise ConfigurationError(
            f"{label(platform_id)}: no OAuth app is set. Register an OAuth app with "
            f"{label(platform_id)} and enter its client id, or use an API key.",
            platform=platform_id,
        )
    manager = token_manager(platform_id)
    if flow == DEVICE_FLOW:
        work = _device_flow_work(platform_id, app, manager, state, ca_bundle)
    else:
        secret = credential_store().get(tokens.client_secret_entry(platform_id))
        work = _authorization_code_work(platform_id, app, secret, manager, state, ca_bundle)
    _update(state, phase=STARTING, text="Contacting the sign-in server", pending_url="")
    job = runner.submit(
        f"{label(platform_id)} sign-in",
        work,
        platform=platform_id,
        on_done=lambda job, result: _finished(platform_id, state, redraw),
        on_error=lambda job, error: _failed(platform_id, state, error, redraw),
        on_progress=lambda job: _progressed(state, open_url or open_in_browser, redraw),
    )
    state.job = job
    return job


def cancel_sign_in(platform_id: str) -> None:
    state = sign_in_state(platform_id)
    if state.job is not None:
        state.job.cancel()


def sign_out(platform_id: str) -> None:
    """Delete the platform's OAuth tokens. Raises ``PolicyError`` when the studio
    policy forbids key changes, and ``CredentialStoreError``."""
    policy.check_key_change(platform_id)
    cancel_sign_in(platform_id)
    token_manager(platform_id).sign_out()
    _update(sign_in_state(platform_id), phase=IDLE, text=f"Signed out of {label(platform_id)}.")


def open_in_browser(url: str) -> None:
    """Open ``url`` in the system browser, on the main thread."""
    import bpy

    bpy.ops.wm.url_open(url=url)


def _device_flow_work(platform_id, app, manager, state, ca_bundle):
    def work(context: JobContext) -> None:
        session = oauth.new_session(ca_bundle)
        try:
            flow = oauth.DeviceFlow(app.client_id, platform_id=platform_id, session=session)

            def show_code(code: oauth.DeviceCode) -> None:
                _update(
                    state,
                    phase=ENTER_CODE,
                    text="Enter the code on the verification page",
                    user_code=code.user_code,
                    verification_uri=code.verification_uri,
                )
                context.report_progress(None, "Waiting for the code to be entered")

            signed = flow.sign_in(show_code, should_cancel=lambda: context.cancelled)
        finally:
            session.close()
        manager.save(signed)

    return work


def _authorization_code_work(platform_id, app, secret, manager, state, ca_bundle):
    def work(context: JobContext) -> None:
        session = oauth.new_session(ca_bundle)
        try:
            flow = oauth.AuthorizationCodeFlow(
                app.client_id,
                secret,
                port=app.redirect_port,
                platform_id=platform_id,
                session=session,
            )

            def open_browser(url: str) -> None:
                # The listener is bound by now; the main thread opens the page.
                _update(
                    state,
                    phase=WAITING_FOR_BROWSER,
                    text=f"Waiting for the browser at 127.0.0.1:{app.redirect_port}",
                    pending_url=url,
                )
                context.report_progress(None, "Waiting for the browser")

            signed = flow.sign_in(
                open_browser,
                wait_seconds=BROWSER_WAIT_SECONDS,
                should_cancel=lambda: context.cancelled,
            )
        finally:
            session.close()
        manager.save(signed)
        credentials.reset_refresher(platform_id)

    return work


def _update(state: SignInState, **values) -> None:
    with _lock:
        for name, value in values.items():
            setattr(state, name, value)


def _progressed(state: SignInState, open_url, redraw) -> None:
    with _lock:
        url, state.pending_url = state.pending_url, ""
    if url:
        open_url(url)
    if redraw is not None:
        redraw()


def _finished(platform_id: str, state: SignInState, redraw) -> None:
    _update(
        state,
        phase=SIGNED_IN,
        text=f"Signed in to {label(platform_id)}.",
        user_code="",
        verification_uri="",
        job=None,
    )
    panel_state.key_checks.pop(platform_id, None)
    if redraw is not None:
        redraw()


def _failed(platform_id: str, state: SignInState, error: MeshportError, redraw) -> None:
    cancelled = isinstance(error, JobCancelledError)
    log.info("platform=%s sign-in ended: %s", platform_id, error.message)
    _update(
        state,
        phase=IDLE if cancelled else FAILED,
        text="Sign-in cancelled." if cancelled else error.message,
        user_code="",
        verification_uri="",
        pending_url="",
        job=None,
    )
    if redraw is not None:
        redraw()


# ---------------------------------------------------------------- the encrypted key file


def key_file_path() -> Path:
    return service.user_data_dir() / KEY_FILE_NAME


def open_key_file(passphrase: str, *, confirmation: str | None = None) -> bool:
    """Unlock the encrypted key file, or create it when it does not exist, and keep
    keys there from now on. Returns True when the file was created.

    Creating needs ``confirmation`` equal to ``passphrase``. Raises
    ``CredentialStoreError`` for a wrong passphrase (the file is not changed), a
    mismatched confirmation, or when a system keyring exists.
    """
    path = key_file_path()
    create = not path.exists()
    if create and confirmation != passphrase:
        raise CredentialStoreError(
            "The two passphrases differ. Type the same passphrase in both fields."
        )
    store = credential_store()
    store.open_encrypted_file(path, Secret(passphrase), create=create)
    # Managers and the preferences cached what the session-only store held.
    credentials.use_process_store(store)
    with _lock:
        _apps.clear()
    panel_state.key_stored.clear()
    panel_state.key_store_name = ""
    return create


# ---------------------------------------------------------------- drawing


def draw_signin_section(layout, preferences) -> None:
    """Draw where keys are kept and the OAuth sign-in of every platform that has one."""
    layout.label(text="OAuth Sign-In", icon="USER")
    draw_key_storage(layout)
    for platform_id in SIGN_IN_FLOWS:
        draw_signin(layout.box(), preferences, platform_id)


def draw_signin(layout, preferences, platform_id: str) -> None:
    """Draw one platform's sign-in: its OAuth app, the state, and the buttons.

    ``preferences`` is the add-on preferences; the OAuth app lives in the credential
    store, so nothing here reads it yet.
    """
    if platform_id not in SIGN_IN_FLOWS:
        return
    name = label(platform_id)
    state = sign_in_state(platform_id)
    app = oauth_app(platform_id)

    row = layout.row(align=True)
    row.label(text=f"{name}: {_signed_in_text(signed_in(platform_id))}")
    operator = row.operator("meshport.set_oauth_app", text="OAuth App", icon="PREFERENCES")
    operator.platform = platform_id
    if app is None:
        layout.label(
            text=f"Register an OAuth app with {name} and enter its client id to sign in.",
            icon="INFO",
        )
        return
    _draw_buttons(layout, platform_id, state)
    _draw_state(layout, platform_id, state)


def _signed_in_text(stored: bool | None) -> str:
    if stored is None:
        return "the credential store cannot be read"
    return "signed in with OAuth" if stored else "not signed in (the API key is used)"


def _draw_buttons(layout, platform_id: str, state: SignInState) -> None:
    row = layout.row(align=True)
    if state.running:
        operator = row.operator("meshport.cancel_sign_in", text="Cancel Sign-In", icon="CANCEL")
    else:
        operator = row.operator("meshport.sign_in", text="Sign In", icon="URL")
    operator.platform = platform_id
    operator = row.operator("meshport.sign_out", text="Sign Out", icon="X")
    operator.platform = platform_id


def _draw_state(layout, platform_id: str, state: SignInState) -> None:
    if state.phase == ENTER_CODE:
        layout.label(text=f"Code: {state.user_code}", icon="KEYINGSET")
        layout.label(text=f"Enter it at {state.verification_uri}")
        row = layout.row(align=True)
        operator = row.operator("meshport.copy_sign_in_code", text="Copy Code", icon="COPYDOWN")
        operator.platform = platform_id
        operator = row.operator("wm.url_open", text="Open Verification Page", icon="URL")
        operator.url = state.verification_uri
    elif state.phase == FAILED:
        layout.label(text=state.text, icon="ERROR")
    elif state.text:
        icon = "INFO"
        if state.phase == SIGNED_IN:
            icon = "CHECKMARK"
        elif state.running:
            icon = "SORTTIME"
        layout.label(text=state.text, icon=icon)


def draw_key_storage(layout) -> None:
    """Draw the encrypted key file's row where no system keyring exists."""
    store = credential_store()
    if store.uses_encrypted_file:
        layout.label(text=f"Keys are kept in the encrypted file {key_file_path()}.", icon="LOCKED")
        return
    if store.available:
        return
    layout.label(
        text="No system keyring: keys last until Blender closes, unless kept in an "
        "encrypted file.",
        icon="ERROR",
    )
    text = "Unlock Key File" if key_file_path().exists() else "Create Encrypted Key File"
    layout.operator("meshport.open_key_file", text=text, icon="UNLOCKED")
