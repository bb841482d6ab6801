"""The sidebar's inputs: the chosen platform and the search text.

They live on the window manager, so they belong to the Blender session and are not
saved with scenes.
"""

from __future__ import annotations

import logging

import bpy

from ..platforms import registry

log = logging.getLogger(__name__)

# Blender keeps only a borrowed reference to the strings of dynamic enum items, so
# the list must stay alive as long as the property can be drawn.
_platform_items: list[tuple[str, str, str]] = []


def platform_class(platform_id: str):
    """Return the platform's client class, or None when it cannot be loaded."""
    try:
        return registry.client_class(platform_id)
    except ImportError:
        log.warning("the client for platform %s could not be loaded", platform_id, exc_info=True)
        return None


def platform_items(_self=None, _context=None) -> list[tuple[str, str, str]]:
    if _platform_items:
        return _platform_items
    for platform_id in registry.available_platform_ids():
        client = platform_class(platform_id)
        label = client.label if client is not None else platform_id
        _platform_items.append((platform_id, label, _describe(client, label)))
    return _platform_items


def _describe(client, label: str) -> str:
    if client is None:
        return f"{label} (its client could not be loaded, see the system console)"
    if client.needs_key:
        return f"Search {label}. Downloading needs an API key"
    if client.platform_id == "local":
        return "Search a folder of GLB, glTF, FBX and OBJ files, also offline"
    return f"Search and download from {label}"


class MeshportSearchProperties(bpy.types.PropertyGroup):
    platform: bpy.props.EnumProperty(
        name="Platform",
        description="Where to search",
        items=platform_items,
    )
    query: bpy.props.StringProperty(
        name="Search",
        description="Words to search for. Empty lists everything",
    )


classes = (MeshportSearchProperties,)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.WindowManager.meshport = bpy.props.PointerProperty(type=MeshportSearchProperties)


def unregister() -> None:
    del bpy.types.WindowManager.meshport
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
