"""The Blender-side tests need the ``bpy`` module."""

from __future__ import annotations

import importlib.util

from support import require


def test_bpy_module_is_installed():
    require(importlib.util.find_spec("bpy") is not None, "the bpy module is not installed")
