"""A full session with a real key leaves that key in no file it wrote and no log."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from fakes.sketchfab import FakeSketchfab, sample_library, uid_for
from support import REPO_ROOT, require

KEY = "sk-plain-text-canary-7f3e9a"
ZIP_PATH = REPO_ROOT / "dist" / "meshport-0.1.0.zip"


def encodings(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, quote(secret).encode(), base64.b64encode(raw), raw.hex().encode(),
            secret.encode("utf-16-le")]


def files_holding(root: Path, secret: str) -> list[str]:
    forms = encodings(secret)
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            if any(form in content for form in forms):
                found.append(str(path.relative_to(root)))
    return found


@pytest.fixture
def fresh_roots(tmp_path):
    roots = {name: tmp_path / name for name in ("home", "blender", "tmp", "xdg", "out")}
    for folder in roots.values():
        folder.mkdir()
    return roots


def test_session_writes_key_to_keyring_only(fresh_roots, sample_assets):
    require(bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")), "no D-Bus session; run `make test`")
    require(ZIP_PATH.is_file(), "the extension zip is missing; run `make build`")
    environment = {
        **os.environ,
        "HOME": str(fresh_roots["home"]),
        "BLENDER_USER_RESOURCES": str(fresh_roots["blender"]),
        "TMPDIR": str(fresh_roots["tmp"]),
        "XDG_CONFIG_HOME": str(fresh_roots["xdg"] / "config"),
        "XDG_CACHE_HOME": str(fresh_roots["xdg"] / "cache"),
        "XDG_STATE_HOME": str(fresh_roots["xdg"] / "state"),
    }
    blend = fresh_roots["out"] / "scene.blend"

    with FakeSketchfab(sample_library(sample_assets), api_key=KEY) as fake:
        result = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("secret_session.py")), str(ZIP_PATH),
             fake.api_base, KEY, uid_for("Box"), str(blend)],
            capture_output=True, text=True, env=environment, timeout=600,
        )
        saw_key_header = any(
            seen.headers.get("Authorization") == f"Token {KEY}" for seen in fake.requests_seen
        )

    lines = [line for line in result.stdout.splitlines() if line.startswith("FINDINGS ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    findings = json.loads(lines[-1].removeprefix("FINDINGS "))
    assert findings["set_key"] == ["FINISHED"]
    assert findings["key_loaded"]
    assert saw_key_header, "the key never reached the fake server"
    assert findings["search_results"] and findings["search_results"][0] > 0
    assert findings["imported_meshes"] == [1], findings.get("import_error")

    data_dir = Path(findings["data_dir"])
    expected = [
        fresh_roots["blender"] / "config" / "userpref.blend",
        blend,
        data_dir / "logs" / "audit.jsonl",
        data_dir / "http_cache.sqlite",
    ]
    for path in expected:
        assert path.is_file(), f"expected file {path} was not written, so the scan proves nothing"

    for root in fresh_roots.values():
        assert files_holding(root, KEY) == []
    for form in encodings(KEY):
        assert form.decode("latin-1") not in result.stdout
        assert form.decode("latin-1") not in result.stderr


@pytest.mark.parametrize("encode", [str.encode, lambda s: base64.b64encode(s.encode()),
                                    lambda s: quote(s).encode()])
def test_scan_finds_planted_key(tmp_path, encode):
    (tmp_path / "deep" / "folder").mkdir(parents=True)
    (tmp_path / "deep" / "folder" / "settings.bin").write_bytes(b"\x00prefix" + encode(KEY))
    assert files_holding(tmp_path, KEY) == ["deep/folder/settings.bin"]
