"""The "Meshport" tab of the 3D View sidebar: search, job status and results.

Panels read ``blender.state.panel_state`` and never call the network or the keyring
while drawing, except for one cached keyring lookup per platform and session.
"""

from __future__ import annotations

import bpy

from ..blender import keys, paths, service, status
from ..blender.state import BUSY_PHASES, OFFLINE, panel_state, status_cache
from .properties import platform_class
from .text import format_faces, format_size, line_characters, wrap

CATEGORY = "Meshport"


def draw_wrapped(layout, text: str, characters: int, icon: str = "NONE") -> None:
    """Draw ``text`` as several labels, the first with ``icon``."""
    for index, line in enumerate(wrap(text, characters)):
        layout.label(text=line, icon=icon if index == 0 else "BLANK1")


def is_offline(platform_id: str) -> bool:
    """Return whether the platform needs the network while online access is off."""
    return service.needs_network(platform_id) and not bpy.app.online_access


def draw_platform_notices(layout, platform_id: str, client, characters: int) -> None:
    """Draw what the artist must know about the platform: its own notice (such as
    "Powered by Poly Haven"), a warning for an unofficial API, a missing key."""
    if client is None:
        draw_wrapped(
            layout,
            f"The {platform_id} client could not be loaded. The system console has the details.",
            characters,
            icon="ERROR",
        )
        return
    if client.notice:
        draw_wrapped(layout, client.notice, characters, icon="INFO")
    if not client.official:
        draw_wrapped(
            layout,
            f"Unofficial: Meshport uses {client.label}'s private web API, which can change "
            "or stop working without notice.",
            characters,
            icon="ERROR",
        )
    if client.needs_key and keys.key_stored(platform_id) is False:
        draw_wrapped(
            layout,
            f"Downloading needs a {client.label} API key. Set it in Meshport's preferences.",
            characters,
            icon="KEYINGSET",
        )
        operator = layout.operator("preferences.addon_show", text="Open Preferences")
        operator.module = paths.BASE_PACKAGE


def draw_offline_notice(layout, characters: int) -> None:
    box = layout.box()
    draw_wrapped(
        box,
        'Online access is off, so Meshport sends no requests. Turn on "Allow Online '
        'Access" in Preferences > System to search and download. The Local library '
        "works offline.",
        characters,
        icon="INTERNET_OFFLINE",
    )
    operator = box.operator("screen.userpref_show", text="Open System Preferences")
    operator.section = "SYSTEM"


def draw_job(layout, characters: int, offline_notice_shown: bool) -> None:
    """Draw the progress bar and Cancel while a job runs, else the last status."""
    if panel_state.phase in BUSY_PHASES:
        row = layout.row(align=True)
        row.progress(
            factor=panel_state.progress or 0.0,
            type="BAR",
            text=panel_state.progress_text or panel_state.phase.capitalize(),
        )
        row.operator("meshport.cancel", text="", icon="CANCEL")
    elif panel_state.status_text:
        draw_wrapped(layout, panel_state.status_text, characters, icon="INFO")
    # The offline notice, when shown, already explains an offline failure.
    explained = offline_notice_shown and panel_state.phase == OFFLINE
    if panel_state.last_error and not explained:
        box = layout.box()
        box.alert = True
        draw_wrapped(box, panel_state.last_error, characters, icon="ERROR")
        box.operator("meshport.dismiss_error", text="Dismiss", icon="X")
    if panel_state.rate_limit_text:
        draw_wrapped(layout, panel_state.rate_limit_text, characters, icon="SORTTIME")


def draw_blocked_platform(layout, platform_id: str, characters: int) -> None:
    """Draw the rate-limit line while the status report marks the platform as
    blocked, unless the job line above already shows it. While the platform is
    blocked, a redraw reads the report again once it is a few seconds old.

    NOTE: the wait shown changes only on redraws, which come from the artist or a
    finished job, so it can stand still between them."""
    blocked = status_cache.blocked_line(platform_id)
    if not blocked:
        return
    status.request_refresh()
    if blocked == panel_state.rate_limit_text:
        return
    column = layout.column()
    column.alert = True
    draw_wrapped(column, blocked, characters, icon="SORTTIME")


class MESHPORT_PT_sidebar(bpy.types.Panel):
    bl_label = "Meshport"
    bl_idname = "MESHPORT_PT_sidebar"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY

    def draw(self, context):
        layout = self.layout
        properties = context.window_manager.meshport
        platform_id = properties.platform
        characters = line_characters(context)

        layout.prop(properties, "platform", text="")
        draw_platform_notices(layout, platform_id, platform_class(platform_id), characters)
        offline = is_offline(platform_id)
        if offline:
            draw_offline_notice(layout, characters)

        row = layout.row(align=True)
        row.prop(properties, "query", text="", icon="VIEWZOOM")
        row.operator("meshport.search", text="", icon="VIEWZOOM")
        draw_job(layout, characters, offline)
        if not offline:
            draw_blocked_platform(layout, platform_id, characters)


def draw_result(layout, asset, characters: int) -> None:
    box = layout.box()
    for index, line in enumerate(wrap(asset.name, characters)):
        box.label(text=line, icon="FILE_3D" if index == 0 else "BLANK1")
    column = box.column(align=True)
    column.label(text=f"by {asset.author or 'unknown author'}", icon="USER")
    column.label(text=f"Licence: {asset.license or 'not stated'}")
    column.label(text=f"{format_size(asset.download_size)}, {format_faces(asset.face_count)}")
    operator = box.operator("meshport.import_asset", text="Import", icon="IMPORT")
    operator.asset_id = asset.asset_id
    operator.platform = asset.platform


class MESHPORT_PT_results(bpy.types.Panel):
    bl_label = "Results"
    bl_idname = "MESHPORT_PT_results"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY
    bl_parent_id = "MESHPORT_PT_sidebar"

    def draw(self, context):
        layout = self.layout
        characters = line_characters(context)
        if not panel_state.results:
            layout.label(text="No results yet. Search above.")
            return
        label = service.platform_label(panel_state.platform_id)
        layout.label(text=f"{len(panel_state.results)} from {label}")
        if panel_state.page_notice:
            draw_wrapped(layout, panel_state.page_notice, characters, icon="ERROR")
        for asset in panel_state.results:
            draw_result(layout, asset, characters)
        if panel_state.next_page:
            layout.operator("meshport.next_page", text="More Results", icon="TRIA_DOWN")


classes = (MESHPORT_PT_sidebar, MESHPORT_PT_results)
