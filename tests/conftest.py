"""Test set-up shared by the whole suite.

The repository root is the add-on package; it is imported here under the name
``meshport`` so tests write ``from meshport.core import ...``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO_ROOT  # noqa: E402


def _load_package() -> None:
    if "meshport" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "meshport", REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["meshport"] = module
    spec.loader.exec_module(module)


_load_package()

from support import SAMPLE_ASSETS, require  # noqa: E402


@pytest.fixture(autouse=True)
def _clear_credential_variables(monkeypatch):
    for name in list(os.environ):
        if name.startswith("MESHPORT_") and name.endswith(("_KEY", "_URL", "_TOKEN")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sample_assets() -> Path:
    """The folder of real third-party sample files (MESHPORT_SAMPLE_ASSETS)."""
    require((SAMPLE_ASSETS / "MANIFEST.md").is_file(), f"sample assets not found in {SAMPLE_ASSETS}")
    return SAMPLE_ASSETS


@pytest.fixture
def make_settings(tmp_path):
    """Build ``Settings`` for tests: online, state under ``tmp_path``, the given
    platforms pointed at loopback servers."""
    from meshport.core.config import PlatformSettings, Settings
    from meshport.core.secrets import Secret

    def build(platform_urls: dict[str, str] | None = None, keys: dict[str, str] | None = None,
              **overrides):
        platform_urls = platform_urls or {}
        keys = keys or {}
        ids = set(platform_urls) | set(keys) | {"sketchfab", "polyhaven", "local"}
        platforms = {
            pid: PlatformSettings(
                platform_id=pid,
                base_url=platform_urls.get(pid, ""),
                key=Secret(keys[pid]) if pid in keys else None,
                rate_per_hour=100000,
            )
            for pid in ids
        }
        values = dict(
            data_dir=tmp_path / "state",
            download_dir=tmp_path / "downloads",
            online_access=True,
            platforms=platforms,
            read_timeout=5.0,
            retry_budget_seconds=5.0,
        )
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory) -> Path:
    """Build, validate and check the zip with tools/build_extension.py in a temporary
    folder, so a build here never replaces dist/ while something else reads it."""
    output_dir = tmp_path_factory.mktemp("extension")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "tools" / "build_extension.py"),
            "--output-dir",
            str(output_dir),
            "--python",
            sys.executable,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (zip_path,) = output_dir.glob("meshport-*.zip")
    return zip_path
