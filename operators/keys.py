"""Set, remove and validate a platform's API key.

The key is typed into a password field of the set-key operator. That property is
``SKIP_SAVE``, so Blender does not remember it for the next call, and the operator
has no ``REGISTER`` option, so the call is not written to the Info log. The value
goes to the credential store and the property is emptied.
"""

from __future__ import annotations

import functools
import logging

import bpy

from ..blender import keys, runtime, service
from ..blender.state import (
    KEY_CHECKING,
    KeyCheck,
    key_check_failed,
    key_check_passed,
    panel_state,
)
from ..core.errors import MeshportError
from .common import platform_property, report_failure

KEY_PLATFORM = "Id of the platform whose key this changes"

log = logging.getLogger(__name__)


def _label(platform_id: str) -> str:
    return service.platform_label(platform_id)


class MESHPORT_OT_set_key(bpy.types.Operator):
    bl_idname = "meshport.set_key"
    bl_label = "Set API Key"
    bl_description = "Store an API key for this platform in the system keyring"
    bl_options = {"INTERNAL"}

    platform: platform_property(KEY_PLATFORM)
    key: bpy.props.StringProperty(
        name="API Key",
        description="The key to store in the system keyring (Blender does not save it)",
        subtype="PASSWORD",
        options={"SKIP_SAVE"},
    )

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self, width=420)

    def draw(self, context):
        self.layout.label(text=f"{_label(self.platform)} API key")
        self.layout.prop(self, "key", text="")

    def execute(self, context):
        value = self.key.strip()
        self.key = ""
        if not value:
            self.report({"ERROR"}, "The key is empty. Paste the key and try again.")
            return {"CANCELLED"}
        try:
            keys.save_key(self.platform, value)
        except MeshportError as error:
            return report_failure(self, error)
        self.report({"INFO"}, f"{_label(self.platform)} key stored. {keys.store_description()}")
        return {"FINISHED"}


class MESHPORT_OT_clear_key(bpy.types.Operator):
    bl_idname = "meshport.clear_key"
    bl_label = "Remove API Key"
    bl_description = "Remove this platform's API key from the system keyring"
    bl_options = {"INTERNAL"}

    platform: platform_property(KEY_PLATFORM)

    def execute(self, context):
        try:
            keys.delete_key(self.platform)
        except MeshportError as error:
            return report_failure(self, error)
        self.report({"INFO"}, f"{_label(self.platform)} key removed.")
        return {"FINISHED"}


def _check_done(platform_id: str, job, account) -> None:
    panel_state.key_checks[platform_id] = key_check_passed(account)


def _check_failed(platform_id: str, job, error: MeshportError) -> None:
    panel_state.key_checks[platform_id] = key_check_failed(error)


class MESHPORT_OT_validate_key(bpy.types.Operator):
    bl_idname = "meshport.validate_key"
    bl_label = "Validate"
    bl_description = "Ask the platform whether the stored key is valid (runs in the background)"
    bl_options = {"INTERNAL"}

    platform: platform_property(KEY_PLATFORM)

    @classmethod
    def poll(cls, context):
        running = [
            check for check in panel_state.key_checks.values() if check.outcome == KEY_CHECKING
        ]
        if running:
            cls.poll_message_set("A key check is running")
            return False
        return True

    def execute(self, context):
        platform_id = self.platform
        try:
            settings = service.settings_from_preferences(context, platform_id=platform_id)
            if settings.platform(platform_id).key is None:
                self.report({"ERROR"}, f"No {_label(platform_id)} key is stored. Set one first.")
                return {"CANCELLED"}
            service.start_key_check(
                runtime.get_runner(),
                settings,
                platform_id,
                on_done=functools.partial(_check_done, platform_id),
                on_error=functools.partial(_check_failed, platform_id),
            )
        except MeshportError as error:
            panel_state.key_checks[platform_id] = key_check_failed(error)
            self.report({"ERROR"}, error.message)
            return {"CANCELLED"}
        panel_state.key_checks[platform_id] = KeyCheck(KEY_CHECKING, "Checking the key")
        return {"FINISHED"}


classes = (MESHPORT_OT_set_key, MESHPORT_OT_clear_key, MESHPORT_OT_validate_key)
