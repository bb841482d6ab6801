"""The sidebar panels and the window-manager properties they draw."""

from __future__ import annotations

import bpy

from . import properties, sidebar, status

CLASSES = sidebar.classes + status.classes


def register() -> None:
    properties.register()
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    properties.unregister()
