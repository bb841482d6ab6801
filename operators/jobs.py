"""Cancel the job the sidebar shows."""

from __future__ import annotations

import logging

import bpy

from ..blender import runtime
from ..blender.state import panel_state

log = logging.getLogger(__name__)


class MESHPORT_OT_cancel(bpy.types.Operator):
    bl_idname = "meshport.cancel"
    bl_label = "Cancel"
    bl_description = "Stop the running search or download, keeping nothing partial"

    @classmethod
    def poll(cls, context):
        if panel_state.job_id is None:
            cls.poll_message_set("Nothing is running")
            return False
        return True

    def execute(self, context):
        job_id = panel_state.job_id
        log.info("cancel requested for job %s", job_id)
        runtime.get_runner().cancel(job_id)
        panel_state.show_progress(panel_state.progress, "Cancelling")
        return {"FINISHED"}


class MESHPORT_OT_dismiss_error(bpy.types.Operator):
    bl_idname = "meshport.dismiss_error"
    bl_label = "Dismiss"
    bl_description = "Hide the last error message"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context):
        if not panel_state.last_error:
            cls.poll_message_set("There is no error to dismiss")
            return False
        return True

    def execute(self, context):
        panel_state.clear_error()
        return {"FINISHED"}


classes = (MESHPORT_OT_cancel, MESHPORT_OT_dismiss_error)
