"""The sidebar panels and the window-manager properties they draw."""

from __future__ import annotations

import bpy

from . import properties, sidebar


def register() -> None:
    properties.register()
    for cls in sidebar.classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(sidebar.classes):
        bpy.utils.unregister_class(cls)
    properties.unregister()
