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
from support import REPO_ROOT, SAMPLE_ASSETS, require

MANIFEST = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text())
MODULE = "bl_ext.user_default.meshport"
VENV_42_PYTHON = REPO_ROOT / ".venv-4.2" / "bin" / "python"
DEVELOPMENT_PATHS = (
    "tests/",
    "tools/",
    "bin/",
    "cli/",
    "sandbox/",
    "benchmarks/",
    "docs/",
    ".venv",
    ".ci/",
    ".git",
    "dist/",
    "out/",
    "Makefile",
    "pytest.ini",
    "vendor/requirements.txt",
)


def install_in_fresh_blender(python: str, zip_path: Path, tmp_path: Path, *models) -> dict:
    """Run install_and_check.py with ``python`` and a new Blender user folder; return
    its findings with ``user_folder`` added."""
    user_folder = tmp_path / "blender-user"
    environment = {**os.environ, "BLENDER_USER_RESOURCES": str(user_folder)}
    script = Path(__file__).with_name("install_and_check.py")
    result = subprocess.run(
        [python, str(script), str(zip_path), *map(str, models)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("FINDINGS ")]
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    assert lines, output
    findings = json.loads(lines[-1].removeprefix("FINDINGS "))
    findings["user_folder"] = str(user_folder)
    return findings


@pytest.fixture(scope="module")
def installed_on_4_5(extension_zip, tmp_path_factory) -> dict:
    return install_in_fresh_blender(
        sys.executable, extension_zip, tmp_path_factory.mktemp("blender-4.5")
    )


def test_zip_holds_no_development_files(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    leaked = [
        name
        for name in names
        if name.startswith(DEVELOPMENT_PATHS) or "__pycache__" in name or name.endswith(".pyc")
    ]
    assert leaked == []


def test_zip_holds_addon_and_every_wheel(extension_zip):
    names = set(zipfile.ZipFile(extension_zip).namelist())
    expected = {"blender_manifest.toml", "__init__.py", "preferences.py", "core/credentials.py"}
    expected |= {path.removeprefix("./") for path in MANIFEST["wheels"]}
    assert expected - names == set()


def test_validator_rejects_invalid_version(tmp_path, blender_ext):
    # The build relies on Blender's validator exiting non-zero on a bad manifest.
    source = tmp_path / "source"
    source.mkdir()
    (source / "__init__.py").write_text("def register():\n    pass\n")
    manifest = (REPO_ROOT / "blender_manifest.toml").read_text()
    manifest = re.sub(r"\nwheels = \[.*?\]\n", "\n", manifest, flags=re.DOTALL)
    manifest = manifest.replace(f'version = "{MANIFEST["version"]}"', 'version = "first"')
    (source / "blender_manifest.toml").write_text(manifest)

    result = subprocess.run(
        [sys.executable, blender_ext.__file__, "validate", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "version" in result.stdout + result.stderr


def test_install_registers_under_user_repository(installed_on_4_5):
    assert installed_on_4_5["after_install"]["enabled"]
    assert installed_on_4_5["registered_as"] == MODULE
    assert installed_on_4_5["preferences_resolved"]
    assert installed_on_4_5["after_install"]["sidebar_panel"]
    assert installed_on_4_5["after_install"]["set_key_operator"]


def test_disable_unregisters_and_enable_registers_again(installed_on_4_5):
    assert installed_on_4_5["after_disable"] == {
        "enabled": False,
        "sidebar_panel": False,
        "set_key_operator": False,
    }
    assert installed_on_4_5["after_enable"] == {
        "enabled": True,
        "sidebar_panel": True,
        "set_key_operator": True,
    }


def test_bundled_wheels_are_unpacked(installed_on_4_5):
    user_folder = Path(installed_on_4_5["user_folder"])
    (site_packages,) = user_folder.glob("extensions/.local/lib/python*/site-packages")
    unpacked = {path.name for path in site_packages.iterdir()}
    # Blender appends this folder to sys.path when it installs the first wheels, so
    # in this venv the imports still find the venv's copies first; the 4.2 smoke
    # test, whose venv lacks them, checks the imports themselves.
    for package in ("keyring", "requests_cache", "pyrate_limiter", "redis", "secretstorage"):
        assert package in unpacked, f"{package} not unpacked; found {sorted(unpacked)}"


def test_user_data_goes_under_blender_user_folder(installed_on_4_5):
    assert installed_on_4_5["user_data_dir"].startswith(installed_on_4_5["user_folder"])


@pytest.fixture(scope="module")
def installed_on_4_2(extension_zip, tmp_path_factory) -> dict:
    """Install into the bpy 4.2 venv, whose site-packages has none of the bundled
    libraries, and import one GLB and one FBX through the add-on."""
    require(VENV_42_PYTHON.is_file(), "the Blender 4.2 venv is missing; run `make venv`")
    require(
        (SAMPLE_ASSETS / "MANIFEST.md").is_file(), f"sample assets not found in {SAMPLE_ASSETS}"
    )
    glb = SAMPLE_ASSETS / "glb" / "Box.glb"
    fbx = SAMPLE_ASSETS / "fbx" / "maya_cube_7400_binary.fbx"
    return install_in_fresh_blender(
        str(VENV_42_PYTHON), extension_zip, tmp_path_factory.mktemp("blender-4.2"), glb, fbx
    )


def test_smoke_on_blender_4_2_installs_and_enables(installed_on_4_2):
    assert installed_on_4_2["blender"].startswith("4.2")
    assert installed_on_4_2["after_install"]["enabled"]
    assert installed_on_4_2["registered_as"] == MODULE
    assert not installed_on_4_2["after_disable"]["enabled"]
    assert installed_on_4_2["after_enable"]["enabled"]


def test_smoke_on_blender_4_2_imports_glb_and_fbx(installed_on_4_2):
    imported = {Path(item["path"]).name: item for item in installed_on_4_2["imports"]}
    assert imported["Box.glb"]["meshes"] == 1
    assert imported["maya_cube_7400_binary.fbx"]["meshes"] >= 1


def test_smoke_on_blender_4_2_uses_only_bundled_libraries(installed_on_4_2):
    # Each import can only succeed from the wheels the zip brought, dependencies
    # included, because .venv-4.2 does not install them.
    site_packages = Path(installed_on_4_2["user_folder"]) / "extensions" / ".local"
    for name, path in installed_on_4_2["imported_from"].items():
        assert Path(path).is_relative_to(site_packages), f"{name} imported from {path}"


def test_smoke_on_blender_4_2_reaches_secret_service(installed_on_4_2):
    # keyring's Secret Service backend needs the bundled cryptography and cffi.
    require(bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")), "no D-Bus session; run `make test`")
    assert installed_on_4_2["keyring"]["available"]
    assert "SecretService" in installed_on_4_2["keyring"]["backend"]
