"""The extension zip: built and validated by Blender's tool, installed as users do."""

import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from meshport.core.version import VERSION
from support import REPO_ROOT, require

MANIFEST = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text())
ZIP_PATH = REPO_ROOT / "dist" / f"meshport-{MANIFEST['version']}.zip"
VENV_42_PYTHON = REPO_ROOT / ".venv-4.2" / "bin" / "python"


@pytest.fixture(scope="module")
def extension_zip() -> Path:
    """Build the zip with tools/build_extension.sh (which also validates it)."""
    result = subprocess.run(
        [str(REPO_ROOT / "tools" / "build_extension.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return ZIP_PATH


def install_in_fresh_blender(python: str, zip_path: Path, tmp_path: Path, *samples) -> dict:
    user_folder = tmp_path / "blender-user"
    environment = {**os.environ, "BLENDER_USER_RESOURCES": str(user_folder)}
    script = Path(__file__).with_name("install_and_check.py")
    result = subprocess.run(
        [python, str(script), str(zip_path), *map(str, samples)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("FINDINGS ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    findings = json.loads(lines[-1].removeprefix("FINDINGS "))
    findings["user_folder"] = str(user_folder)
    return findings


def test_version_matches_manifest():
    assert VERSION == MANIFEST["version"]


def test_manifest_lists_every_vendored_wheel():
    listed = {Path(path).name for path in MANIFEST["wheels"]}
    present = {path.name for path in (REPO_ROOT / "vendor").glob("*.whl")}
    assert listed == present


def test_manifest_reasons_fit_blender_rules():
    texts = [MANIFEST["tagline"], *MANIFEST["permissions"].values()]
    for text in texts:
        assert len(text) <= 64, text
        assert re.search(r"[A-Za-z0-9)\]]$", text), text


def test_zip_holds_no_development_files(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    forbidden = ("tests/", "tools/", "bin/", ".venv", "benchmarks/", "docs/", ".ci/", "cli/")
    leaked = [name for name in names if name.startswith(forbidden) or "__pycache__" in name]
    assert leaked == []
    assert "blender_manifest.toml" in names
    assert "platforms/sketchfab.py" in names


def test_zip_installs_enables_disables_and_enables_again(extension_zip, tmp_path):
    findings = install_in_fresh_blender(sys.executable, extension_zip, tmp_path)
    assert findings["enabled_after_install"]
    assert findings["registered_as"] == "bl_ext.user_default.meshport"
    assert findings["sidebar_panel"]
    assert not findings["enabled_after_disable"]
    assert not findings["panel_after_disable"]
    assert findings["enabled_after_enable"]
    assert findings["panel_after_enable"]


def test_bundled_wheels_are_unpacked_into_the_user_folder(extension_zip, tmp_path):
    findings = install_in_fresh_blender(sys.executable, extension_zip, tmp_path)
    user_folder = Path(findings["user_folder"])
    unpacked = {path.name for path in user_folder.glob("extensions/.local/lib/python*/site-packages/*")}
    for package in ("keyring", "requests_cache", "pyrate_limiter", "redis", "secretstorage"):
        assert package in unpacked, f"{package} not unpacked; found {sorted(unpacked)}"
    assert findings["user_data_dir"].startswith(findings["user_folder"])


def test_smoke_on_blender_4_2_imports_glb_and_fbx(extension_zip, tmp_path, sample_assets):
    require(VENV_42_PYTHON.is_file(), "the Blender 4.2 venv is missing; run `make venv-4.2`")
    glb = sample_assets / "glb" / "Box.glb"
    fbx = sample_assets / "fbx" / "maya_cube_7400_binary.fbx"
    findings = install_in_fresh_blender(str(VENV_42_PYTHON), extension_zip, tmp_path, glb, fbx)
    assert findings["blender"].startswith("4.2")
    assert findings["enabled_after_install"]
    imported = {Path(item["path"]).name: item for item in findings["imports"]}
    assert imported["Box.glb"]["meshes"] == 1
    assert imported["maya_cube_7400_binary.fbx"]["meshes"] >= 1
