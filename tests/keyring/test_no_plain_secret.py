"""A key stored through the add-on's preferences lands in the keyring and in no file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.sketchfab import FakeSketchfab, sample_library, uid_for
from secret_scan import scan_for_secret, text_holds_secret
from support import require

KEY = "sk-plain-text-canary-7f3e9a"
SESSION_SCRIPT = Path(__file__).with_name("secret_session.py")


@pytest.fixture
def fresh_roots(tmp_path):
    """New, empty folders for every place the session may write to."""
    roots = {name: tmp_path / name for name in ("home", "blender", "tmp", "xdg", "out")}
    for folder in roots.values():
        folder.mkdir()
    return roots


@pytest.fixture
def sketchfab_entry():
    """Remove the session's key from the keyring after the test."""
    yield "sketchfab"
    from keyring.backends import SecretService

    try:
        SecretService.Keyring().delete_password("meshport", "sketchfab")
    except Exception:  # nothing stored, or no Secret Service: nothing to clean up
        pass


def session_environment(roots: dict[str, Path]) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(roots["home"]),
        "BLENDER_USER_RESOURCES": str(roots["blender"]),
        "TMPDIR": str(roots["tmp"]),
        "XDG_CONFIG_HOME": str(roots["xdg"] / "config"),
        "XDG_CACHE_HOME": str(roots["xdg"] / "cache"),
        "XDG_STATE_HOME": str(roots["xdg"] / "state"),
    }


def run_session(
    extension_zip, roots, sample_assets
) -> tuple[dict, subprocess.CompletedProcess, bool]:
    """Run secret_session.py against a fake Sketchfab that accepts only KEY; return
    its findings, the finished process, and whether the fake received the key."""
    blend = roots["out"] / "scene.blend"
    with FakeSketchfab(sample_library(sample_assets), api_key=KEY) as fake:
        result = subprocess.run(
            [
                sys.executable,
                str(SESSION_SCRIPT),
                str(extension_zip),
                fake.api_base,
                KEY,
                uid_for("Box"),
                str(blend),
            ],
            capture_output=True,
            text=True,
            env=session_environment(roots),
            timeout=600,
            check=False,
        )
        key_reached_server = any(
            seen.headers.get("Authorization") == f"Token {KEY}" for seen in fake.requests_seen
        )
    lines = [line for line in result.stdout.splitlines() if line.startswith("FINDINGS ")]
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    assert lines, output
    return json.loads(lines[-1].removeprefix("FINDINGS ")), result, key_reached_server


def test_key_goes_to_keyring_and_no_file(
    extension_zip, fresh_roots, sample_assets, sketchfab_entry
):
    require(bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")), "no D-Bus session; run `make test`")
    findings, result, key_reached_server = run_session(extension_zip, fresh_roots, sample_assets)

    assert findings["set_key"] == ["FINISHED"]
    assert findings["store_available"], findings["store_backend"]
    assert "SecretService" in findings["store_backend"]
    assert findings["key_loaded"]
    assert key_reached_server, "the key never reached the fake server"
    assert findings["search_results"] and findings["search_results"][0] > 0
    assert findings["imported_meshes"] == [1], findings.get("import_error")

    from keyring.backends import SecretService

    assert SecretService.Keyring().get_password("meshport", sketchfab_entry) == KEY

    data_dir = Path(findings["data_dir"])
    expected = [
        fresh_roots["blender"] / "config" / "userpref.blend",
        fresh_roots["out"] / "scene.blend",
        data_dir / "logs" / "audit.jsonl",
        data_dir / "http_cache.sqlite",
    ]
    leaks = scan_for_secret(list(fresh_roots.values()), KEY, expected=expected)
    assert leaks == []
    assert text_holds_secret(result.stdout, KEY) == []
    assert text_holds_secret(result.stderr, KEY) == []
