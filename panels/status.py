"""The Status panel in the Meshport sidebar tab: health and rate budgets per
platform, deprecation notices, the studio policy and the TLS trust.

Drawing shows ``state.status_cache`` and, when that report is older than a few
seconds, starts a worker that reads a new one, so a redraw never reads the audit
log, rate store or caches itself.
"""

from __future__ import annotations

import bpy

from ..blender import service, status
from ..blender.state import status_cache
from ..core.deprecation import NOTICES
from .sidebar import CATEGORY, draw_wrapped
from .text import format_size, line_characters


def draw_platform(layout, platform_status, characters: int) -> None:
    box = layout.box()
    draw_wrapped(box, platform_status.health_line, characters, icon="WORLD")
    if platform_status.budget_line:
        column = box.column()
        column.alert = platform_status.blocked
        icon = "SORTTIME" if platform_status.blocked else "BLANK1"
        draw_wrapped(column, platform_status.budget_line, characters, icon=icon)
    if platform_status.last_error:
        draw_wrapped(box, platform_status.last_error, characters, icon="ERROR")


def draw_notices(layout, characters: int) -> None:
    """Draw the deprecation and sunset notices platforms sent in this session."""
    for notice in NOTICES.notices():
        box = layout.box()
        box.alert = True
        label = service.platform_label(notice.platform_id)
        draw_wrapped(box, notice.describe(label), characters, icon="ERROR")


def draw_setup(layout, report, characters: int) -> None:
    """Draw the studio policy, the TLS trust, the backend and the cache sizes."""
    column = layout.column()
    draw_wrapped(column, report.policy_line, characters, icon="LOCKED")
    draw_wrapped(column, report.trust_line, characters, icon="LINKED")
    draw_wrapped(column, report.backend_line, characters, icon="DISK_DRIVE")
    if report.response_cache_bytes is not None:
        entries = report.response_cache_entries or 0
        text = f"Response cache: {entries} responses, {format_size(report.response_cache_bytes)}"
        column.label(text=text, icon="FILE_CACHE")
    if report.asset_cache_bytes is not None:
        text = f"Asset cache: {format_size(report.asset_cache_bytes)}"
        column.label(text=text, icon="FILE_CACHE")
    for problem in report.problems:
        draw_wrapped(column, problem, characters, icon="ERROR")


class MESHPORT_PT_status(bpy.types.Panel):
    bl_label = "Status"
    bl_idname = "MESHPORT_PT_status"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY
    bl_options = {"DEFAULT_CLOSED"}
    bl_order = 10

    def draw(self, context):
        layout = self.layout
        characters = line_characters(context)
        status.request_refresh(context)
        report = status_cache.report
        draw_notices(layout, characters)
        if report is None:
            layout.label(text="Reading the status", icon="SORTTIME")
            return
        for platform_status in report.platforms:
            draw_platform(layout, platform_status, characters)
        draw_setup(layout, report, characters)


classes = (MESHPORT_PT_status,)
