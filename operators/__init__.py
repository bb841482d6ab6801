"""The add-on's operators. Each module lists its classes in ``classes``."""

from __future__ import annotations

import bpy

from . import cache, import_asset, jobs, keys, search, signin

MODULES = (search, import_asset, jobs, keys, cache, signin)


def register() -> None:
    for module in MODULES:
        for cls in module.classes:
            bpy.utils.register_class(cls)


def unregister() -> None:
    for module in reversed(MODULES):
        for cls in reversed(module.classes):
            bpy.utils.unregister_class(cls)
