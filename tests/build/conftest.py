"""Fixtures for the build tests: Blender's extension tool as a module. The extension
zip comes from the suite's ``extension_zip`` fixture."""

import importlib.util
from pathlib import Path

import pytest


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
