"""The bundled wheels: pinned, listed in the manifest, and complete on every platform.

Blender installs, on each system, the listed wheels whose platform and Python tags
match it, and nothing else: no resolver runs. So for every platform the manifest
names and for each Python that Blender 4.2 and later ship (3.11, and 3.13 from 5.1),
the wheels that install there must satisfy every requirement of the libraries the
add-on imports.
"""

import importlib.util
import re
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from meshport.core.version import VERSION
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from support import REPO_ROOT

VENDOR = REPO_ROOT / "vendor"
MANIFEST = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text())
WHEELS = sorted(VENDOR.glob("*.whl"))

# What the add-on imports from the bundle, and what Blender itself bundles. The
# encrypted key file also imports cryptography where a wheel of it installs.
ROOT_DISTRIBUTIONS = ["keyring", "requests-cache", "pyrate-limiter", "redis"]
OPTIONAL_ROOT = "cryptography"
CRYPTOGRAPHY_PLATFORMS = {"linux-x64", "windows-x64", "macos-arm64"}
BLENDER_BUNDLED = {"requests", "urllib3", "certifi", "idna", "charset-normalizer"}

PLATFORM_MARKERS = {
    "windows-x64": {
        "sys_platform": "win32",
        "platform_system": "Windows",
        "platform_machine": "AMD64",
        "os_name": "nt",
    },
    "windows-arm64": {
        "sys_platform": "win32",
        "platform_system": "Windows",
        "platform_machine": "ARM64",
        "os_name": "nt",
    },
    "macos-x64": {
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "platform_machine": "x86_64",
        "os_name": "posix",
    },
    "macos-arm64": {
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "platform_machine": "arm64",
        "os_name": "posix",
    },
    "linux-x64": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
    },
}
# The .0 releases are the oldest of each line, so every marker that depends on the
# patch level (redis: async-timeout before 3.11.3) counts as needed.
PYTHON_VERSIONS = {"3.11": "3.11.0", "3.13": "3.13.0"}
TARGETS = [(platform, python) for platform in MANIFEST["platforms"] for python in PYTHON_VERSIONS]


def load_fetch_wheels():
    spec = importlib.util.spec_from_file_location(
        "fetch_wheels", REPO_ROOT / "tools" / "fetch_wheels.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["fetch_wheels"] = module
    spec.loader.exec_module(module)
    return module


def marker_environment(platform: str, python: str) -> dict[str, str]:
    environment = default_environment()
    environment.update(PLATFORM_MARKERS[platform])
    environment.update(
        python_version=python,
        python_full_version=PYTHON_VERSIONS[python],
        implementation_name="cpython",
        platform_python_implementation="CPython",
        extra="",
    )
    return environment


def wheel_installs_on(path: Path, platform: str, python: str, blender_ext) -> bool:
    """Return whether Blender on ``platform`` with ``python`` installs this wheel."""
    major, minor = (int(part) for part in python.split("."))
    for tag in parse_wheel_filename(path.name)[3]:
        platform_ok = tag.platform == "any" or platform in (
            blender_ext.blender_platforms_from_wheel_platform(tag.platform)
        )
        version = re.fullmatch(r"(?:cp|py)(\d)(\d*)", tag.interpreter)
        if version is None or not platform_ok:
            continue
        tag_major, tag_minor = int(version[1]), int(version[2] or 0)
        if tag.abi == "abi3":
            python_ok = (tag_major, tag_minor) <= (major, minor)
        elif tag.abi == "none" and not version[2]:
            python_ok = tag_major == major
        else:
            python_ok = (tag_major, tag_minor) == (major, minor)
        if python_ok:
            return True
    return False


def requirements_of(path: Path) -> list[Requirement]:
    with zipfile.ZipFile(path) as archive:
        (name,) = [item for item in archive.namelist() if item.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(name).decode())
    return [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]


def resolve(platform: str, python: str, blender_ext) -> tuple[set[Path], list[str]]:
    """Follow the requirements from the root distributions through the wheels that
    install on the target. Return the wheels used and each unmet requirement."""
    installed: dict[str, list[Path]] = {}
    for path in WHEELS:
        if wheel_installs_on(path, platform, python, blender_ext):
            installed.setdefault(canonicalize_name(parse_wheel_filename(path.name)[0]), []).append(
                path
            )
    environment = marker_environment(platform, python)

    used: set[Path] = set()
    unmet: list[str] = []
    roots = ROOT_DISTRIBUTIONS + ([OPTIONAL_ROOT] if OPTIONAL_ROOT in installed else [])
    pending = [Requirement(name) for name in roots]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        if name in BLENDER_BUNDLED:
            continue
        candidates = [
            path
            for path in installed.get(name, [])
            if requirement.specifier.contains(
                str(parse_wheel_filename(path.name)[1]), prereleases=True
            )
        ]
        if not candidates:
            unmet.append(str(requirement))
            continue
        for path in candidates:
            if path not in used:
                used.add(path)
                pending += requirements_of(path)
    return used, unmet


@pytest.mark.parametrize(("platform", "python"), TARGETS)
def test_wheels_meet_every_requirement(platform, python, blender_ext):
    _used, unmet = resolve(platform, python, blender_ext)
    assert unmet == []


@pytest.mark.parametrize("python", PYTHON_VERSIONS)
def test_cryptography_installs_where_a_patched_wheel_exists(python, blender_ext):
    wheels = [path for path in WHEELS if path.name.startswith("cryptography-")]
    platforms = {
        platform
        for platform in MANIFEST["platforms"]
        if any(wheel_installs_on(path, platform, python, blender_ext) for path in wheels)
    }
    assert platforms == CRYPTOGRAPHY_PLATFORMS


@pytest.mark.parametrize(("platform", "python"), TARGETS)
def test_at_most_one_wheel_per_distribution_installs(platform, python, blender_ext):
    names = [
        canonicalize_name(parse_wheel_filename(path.name)[0])
        for path in WHEELS
        if wheel_installs_on(path, platform, python, blender_ext)
    ]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert duplicates == []


def test_every_vendored_wheel_is_needed_somewhere(blender_ext):
    used = set()
    for platform, python in TARGETS:
        used |= resolve(platform, python, blender_ext)[0]
    assert sorted(path.name for path in set(WHEELS) - used) == []


def test_blender_bundled_packages_are_not_vendored():
    names = {canonicalize_name(parse_wheel_filename(path.name)[0]) for path in WHEELS}
    assert names & BLENDER_BUNDLED == set()


def test_wheels_match_pinned_hashes():
    fetch_wheels = load_fetch_wheels()
    assert fetch_wheels.find_problems(fetch_wheels.read_pins()) == []


def test_manifest_lists_every_vendored_wheel():
    listed = {Path(path).name for path in MANIFEST["wheels"]}
    assert listed == {path.name for path in WHEELS}


def test_manifest_wheel_paths_are_relative_with_forward_slashes():
    for path in MANIFEST["wheels"]:
        assert path.startswith("./vendor/"), path
        assert "\\" not in path, path


def test_venv_pins_the_bundled_versions():
    fetch_wheels = load_fetch_wheels()
    venv_pins = {}
    for line in (REPO_ROOT / "tools" / "requirements.txt").read_text().splitlines():
        specifier = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in specifier:
            name, version = specifier.split("==")
            venv_pins[canonicalize_name(name)] = version
    for pin in fetch_wheels.read_pins():
        assert venv_pins.get(pin.key) == pin.version, f"{pin.name} in tools/requirements.txt"


def test_smoke_venv_installs_no_bundled_library():
    # .venv-4.2 must get these from the extension's wheels, or the smoke test
    # would not notice a missing wheel.
    fetch_wheels = load_fetch_wheels()
    smoke_requirements = (REPO_ROOT / "tools" / "requirements-4.2.txt").read_text()
    smoke_names = {
        canonicalize_name(line.split("==")[0])
        for line in smoke_requirements.splitlines()
        if "==" in line and not line.startswith("#")
    }
    bundled = {pin.key for pin in fetch_wheels.read_pins()}
    assert smoke_names & bundled == set()


def test_version_matches_manifest():
    assert VERSION == MANIFEST["version"]


def test_manifest_texts_fit_blender_rules():
    texts = [MANIFEST["tagline"], *MANIFEST["permissions"].values()]
    for text in texts:
        assert len(text) <= 64, text
        assert re.search(r"[A-Za-z0-9)\]]$", text), text


def test_manifest_asks_for_network_and_files():
    assert set(MANIFEST["permissions"]) == {"network", "files"}
