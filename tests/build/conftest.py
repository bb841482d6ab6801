"""Fixtures for the build tests: the extension zip, built once per session, and
Blender's extension tool as a module."""

import importlib.util
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


@pytest.fixture(scope="session")
def blender_ext():
    """Blender's extension command line tool (``blender_ext.py`` in the bpy wheel),
    loaded as a module for its wheel-platform rules."""
    spec = importlib.util.find_spec("bpy")
    assert spec is not None, "bpy is not installed in this venv; run `make venv`"
    root = Path(spec.submodule_search_locations[0])
    (path,) = sorted(root.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))[-1:]
    module_spec = importlib.util.spec_from_file_location("blender_ext", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
