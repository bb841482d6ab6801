"""Fixtures for the keyring tests: the extension zip, built once per session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO_ROOT


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
