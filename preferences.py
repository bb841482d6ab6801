"""The add-on preferences: keys, server addresses, the local library and downloads.

No key is ever a property here: the preferences show whether the keyring holds one,
and operators set, remove and validate it. Blender saves these properties in
userpref.blend, so everything on this class must be safe to write to disk.
"""

from __future__ import annotations

import logging
import os

import bpy

from .blender import keys, paths, service
from .blender.state import (
    KEY_CHECKING,
    KEY_VALID,
    panel_state,
)
from .core.config import DEFAULT_BASE_URLS, env_name

log = logging.getLogger(__name__)

STATUS_ICONS = {KEY_VALID: "CHECKMARK", KEY_CHECKING: "SORTTIME"}


def _url_property(platform_id: str, default_url: str):
    # The label comes from the platform's client when drawn, because loading the
    # clients here would slow down enabling the add-on.
    return bpy.props.StringProperty(
        name=f"{platform_id} URL",
        description=(
            f"Base URL of the API. Empty uses {default_url}. The environment variable "
            f"{env_name(platform_id, 'URL')} overrides it"
        ),
    )


class MeshportPreferences(bpy.types.AddonPreferences):
    # "bl_ext.<repository>.meshport" as an extension, "meshport" in tests.
    bl_idname = __package__

    local_folder: bpy.props.StringProperty(
        name="Local Library Folder",
        description=(
            "Folder of GLB, glTF, FBX, OBJ and zip files that the Local library platform "
            "searches. MESHPORT_LOCAL_DIR overrides it"
        ),
        subtype="DIR_PATH",
    )
    download_folder: bpy.props.StringProperty(
        name="Download Folder",
        description="Folder for downloaded assets; empty uses the extension's own user folder",
        subtype="DIR_PATH",
    )
    image_storage: bpy.props.EnumProperty(
        name="Images",
        description="Where imported images are kept, so a saved scene never uses the downloads",
        items=(
            ("PACK", "Pack into the .blend", "Store the images inside the .blend file"),
            (
                "COPY",
                "Copy next to the .blend",
                (
                    "Copy the images into a textures folder beside the saved .blend file "
                    "(unsaved files get packed images)"
                ),
            ),
        ),
        default="PACK",
    )

    def draw(self, context):
        draw_preferences(self.layout, self)


# The annotations are added before registration, one URL field per platform with a
# default server, so the field names follow ``core.config`` (``sketchfab_url``, ...).
for _platform_id, _default_url in DEFAULT_BASE_URLS.items():
    MeshportPreferences.__annotations__[f"{_platform_id}_url"] = _url_property(
        _platform_id, _default_url
    )


def draw_preferences(layout, preferences) -> None:
    draw_keys(layout.box())
    draw_servers(layout.box(), preferences)
    draw_files(layout.box(), preferences)


def draw_keys(layout) -> None:
    layout.label(text="API Keys", icon="KEYINGSET")
    layout.label(text=keys.store_description())
    for platform_id in service.key_platform_ids():
        draw_key_row(layout, platform_id)


def draw_key_row(layout, platform_id: str) -> None:
    label = service.platform_label(platform_id)
    stored = keys.key_stored(platform_id)
    if stored is None:
        state_text = "the keyring cannot be read"
    else:
        state_text = "key stored" if stored else "no key stored"
    row = layout.row(align=True)
    row.label(text=f"{label}: {state_text}")
    operator = row.operator("meshport.set_key", text="Set Key", icon="ADD")
    operator.platform = platform_id
    operator = row.operator("meshport.clear_key", text="", icon="TRASH")
    operator.platform = platform_id
    operator = row.operator("meshport.validate_key", text="Validate", icon="CHECKMARK")
    operator.platform = platform_id

    check = panel_state.key_checks.get(platform_id)
    if check is not None:
        icon = STATUS_ICONS.get(check.outcome, "ERROR")
        layout.label(text=check.text, icon=icon)


def draw_servers(layout, preferences) -> None:
    layout.label(text="Servers", icon="WORLD")
    for platform_id in DEFAULT_BASE_URLS:
        label = service.platform_label(platform_id)
        layout.prop(preferences, f"{platform_id}_url", text=f"{label} URL")
        variable = env_name(platform_id, "URL")
        if os.environ.get(variable, "").strip():
            layout.label(text=f"{variable} is set and overrides this field.", icon="INFO")


def draw_files(layout, preferences) -> None:
    layout.label(text="Files", icon="FILE_FOLDER")
    layout.prop(preferences, "local_folder")
    layout.prop(preferences, "download_folder")
    if not preferences.download_folder:
        layout.label(text=f"Downloads go to {paths.user_data_dir() / 'downloads'}")
    layout.prop(preferences, "image_storage")


classes = (MeshportPreferences,)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
