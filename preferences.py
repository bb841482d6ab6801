"""The add-on preferences: keys, server addresses, network limits, the local
library, downloads and the caches.

No key is ever a property here: the preferences show whether the keyring holds one,
and operators set, remove and validate it. Blender saves these properties in
userpref.blend, so everything on this class must be safe to write to disk.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

import bpy

from .blender import keys, paths, service, signin, status
from .blender.state import (
    KEY_CHECKING,
    KEY_VALID,
    panel_state,
    status_cache,
)
from .core.config import DEFAULT_BASE_URLS, DEFAULT_RATE_PER_HOUR, env_name
from .core.redact import redact_url
from .panels.text import format_size

# The names of core.tls.CA_BUNDLE_VARIABLE and core.studio.REDIS_URL_VARIABLE, written
# out because importing those modules would load requests and redis on enabling.
CA_BUNDLE_VARIABLE = "MESHPORT_CA_BUNDLE"
REDIS_URL_VARIABLE = "MESHPORT_REDIS_URL"

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


def _rate_property(platform_id: str, default_rate: int):
    return bpy.props.IntProperty(
        name=f"{platform_id} requests per hour",
        description=(
            f"Maximum requests per hour Meshport sends to {platform_id}. The platform's own "
            "rate-limit answers still apply when they are stricter"
        ),
        default=default_rate,
        min=1,
        max=100_000,
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
    unity_folder: bpy.props.StringProperty(
        name="Unity Packages Folder",
        description=(
            "Folder of .unitypackage files to search besides Unity's own download "
            "folder. MESHPORT_UNITY_DIR overrides it"
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

    retry_budget_seconds: bpy.props.FloatProperty(
        name="Retry Budget",
        description=(
            "Maximum seconds one request spends waiting for retries and rate limits; a "
            "longer wait fails at once and says how long to wait"
        ),
        default=60.0,
        min=0.0,
        max=3600.0,
        unit="TIME_ABSOLUTE",
    )
    max_parallel_downloads: bpy.props.IntProperty(
        name="Parallel Downloads",
        description="Number of files downloaded at the same time",
        default=4,
        min=1,
        max=16,
    )
    ca_bundle: bpy.props.StringProperty(
        name="CA Bundle",
        description=(
            "PEM file or folder of certificate authorities to verify servers with, or "
            "'system' for the system trust store; empty uses the bundle Blender ships. "
            "MESHPORT_CA_BUNDLE overrides it"
        ),
        subtype="FILE_PATH",
    )
    redis_url: bpy.props.StringProperty(
        name="Studio Redis URL",
        description=(
            "redis://host:6379/0 of a studio Redis that shares the response cache and rate "
            "budgets between machines; empty keeps them on this computer. A password in "
            "the URL is saved in userpref.blend, so set MESHPORT_REDIS_URL for such a URL. "
            "MESHPORT_REDIS_URL overrides this field"
        ),
    )
    asset_cache_gib: bpy.props.FloatProperty(
        name="Asset Cache Size",
        description=(
            "Maximum size of the downloaded assets kept for reuse, in GiB; the least "
            "recently used are deleted beyond it"
        ),
        default=5.0,
        min=0.1,
        max=1024.0,
        precision=1,
    )

    def draw(self, context):
        draw_preferences(self.layout, self)


# The annotations are added before registration, one URL field per platform with a
# default server, so the field names follow ``core.config`` (``sketchfab_url``, ...).
for _platform_id, _default_url in DEFAULT_BASE_URLS.items():
    MeshportPreferences.__annotations__[f"{_platform_id}_url"] = _url_property(
        _platform_id, _default_url
    )
# One request budget per platform with a default rate (``sketchfab_rate_per_hour``, ...).
for _platform_id, _default_rate in DEFAULT_RATE_PER_HOUR.items():
    MeshportPreferences.__annotations__[f"{_platform_id}_rate_per_hour"] = _rate_property(
        _platform_id, _default_rate
    )


def draw_preferences(layout, preferences) -> None:
    draw_keys(layout.box())
    signin.draw_signin_section(layout.box(), preferences)
    draw_servers(layout.box(), preferences)
    draw_network(layout.box(), preferences)
    draw_files(layout.box(), preferences)
    draw_caches(layout.box(), preferences)


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


def draw_network(layout, preferences) -> None:
    layout.label(text="Network", icon="LINKED")
    column = layout.column(align=True)
    column.label(text="Requests per hour:")
    for platform_id in DEFAULT_RATE_PER_HOUR:
        label = service.platform_label(platform_id)
        column.prop(preferences, f"{platform_id}_rate_per_hour", text=label)
    layout.prop(preferences, "retry_budget_seconds")
    layout.prop(preferences, "max_parallel_downloads")
    layout.prop(preferences, "ca_bundle")
    if os.environ.get(CA_BUNDLE_VARIABLE, "").strip():
        layout.label(text=f"{CA_BUNDLE_VARIABLE} is set and overrides this field.", icon="INFO")
    layout.prop(preferences, "redis_url")
    draw_redis_source(layout, preferences)


def draw_redis_source(layout, preferences) -> None:
    """Say which Redis URL is in use when the environment variable overrides the
    field, and warn when the field contains a password that userpref.blend keeps."""
    from_env = os.environ.get(REDIS_URL_VARIABLE, "").strip()
    if from_env:
        layout.label(
            text=f"{REDIS_URL_VARIABLE} is set and overrides this field: {redact_url(from_env)}",
            icon="INFO",
        )
    if urlsplit(preferences.redis_url.strip()).password:
        layout.label(
            text=(
                "This URL contains a password, which is saved in userpref.blend. "
                f"Use {REDIS_URL_VARIABLE} instead."
            ),
            icon="ERROR",
        )


def draw_caches(layout, preferences) -> None:
    """Draw the cache sizes from the status report, read on a worker when older than
    a few seconds, with a Clear button each."""
    layout.label(text="Caches", icon="FILE_CACHE")
    status.request_refresh()
    report = status_cache.report
    response_size = asset_size = "reading"
    if report is not None:
        if report.response_cache_bytes is not None:
            entries = report.response_cache_entries or 0
            response_size = f"{entries} responses, {format_size(report.response_cache_bytes)}"
        else:
            response_size = "size unknown"
        asset_size = format_size(report.asset_cache_bytes)
    row = layout.row()
    row.label(text=f"Response cache: {response_size}")
    row.operator("meshport.clear_response_cache", text="Clear", icon="TRASH")
    row = layout.row()
    row.label(text=f"Asset cache: {asset_size}")
    row.operator("meshport.clear_asset_cache", text="Clear", icon="TRASH")
    layout.prop(preferences, "asset_cache_gib")
    if report is not None:
        for problem in report.problems:
            layout.label(text=problem, icon="ERROR")


def draw_files(layout, preferences) -> None:
    layout.label(text="Files", icon="FILE_FOLDER")
    layout.prop(preferences, "local_folder")
    layout.prop(preferences, "unity_folder")
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
