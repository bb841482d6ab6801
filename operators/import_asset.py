"""Download one search result on a worker and import it into the scene."""

from __future__ import annotations

import logging

import bpy

from ..blender import runtime, service
from ..blender.importer import ImportResult
from ..blender.state import DOWNLOADING, IMPORTING, panel_state
from ..core.errors import MeshportError
from .common import is_current, job_callbacks, on_job_progress, report_failure

log = logging.getLogger(__name__)


def _import_starting(job, asset) -> None:
    if is_current(job):
        panel_state.phase = IMPORTING
        panel_state.show_progress(1.0, f"Importing '{asset.name}'")


def _show_import(job, result: ImportResult) -> None:
    text = f"Imported '{result.asset.name}' into the collection '{result.collection_name}'."
    if result.warnings:
        text += " " + " ".join(result.warnings)
    panel_state.finish(text)


def _after_import(on_done):
    """Wrap ``on_done`` so every finished import becomes one undo step."""

    def done(job, result: ImportResult) -> None:
        _push_undo_step(f"Meshport: import {result.asset.name}")
        on_done(job, result)

    return done


def _push_undo_step(message: str) -> None:
    """Make the import one undo step; jobs end in a timer, where Blender adds none."""
    if bpy.app.background:
        return
    try:
        bpy.ops.ed.undo_push(message=message)
    except RuntimeError:
        log.info("no undo step for the import: the context has no window")


def _asset_name(asset_id: str) -> str:
    for asset in panel_state.results:
        if asset.asset_id == asset_id:
            return asset.name
    return asset_id


class MESHPORT_OT_import_asset(bpy.types.Operator):
    bl_idname = "meshport.import_asset"
    bl_label = "Import"
    bl_description = "Download this asset and import it at the 3D cursor"

    asset_id: bpy.props.StringProperty(
        name="Asset ID",
        description="The platform's id of the asset, as the search result gives it",
        options={"SKIP_SAVE"},
    )
    platform: bpy.props.StringProperty(
        name="Platform",
        description="Platform id of the asset; empty uses the platform of the results",
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context):
        if panel_state.busy:
            cls.poll_message_set("A search or download is running; wait for it or cancel it")
            return False
        return True

    def execute(self, context):
        platform_id = (
            self.platform or panel_state.platform_id or context.window_manager.meshport.platform
        )
        if not self.asset_id:
            self.report({"ERROR"}, "No asset id was given; choose a search result to import.")
            return {"CANCELLED"}
        try:
            settings = service.settings_from_preferences(context, platform_id=platform_id)
            on_done, on_error = job_callbacks(settings, platform_id, _show_import)
            job = service.start_import(
                runtime.get_runner(),
                settings,
                platform_id,
                self.asset_id,
                import_options=service.import_options_from_preferences(context),
                on_done=_after_import(on_done),
                on_error=on_error,
                on_progress=on_job_progress,
                on_import_start=_import_starting,
            )
        except MeshportError as error:
            return report_failure(self, error)
        panel_state.start(DOWNLOADING, job.job_id, f"Downloading '{_asset_name(self.asset_id)}'")
        return {"FINISHED"}


classes = (MESHPORT_OT_import_asset,)
