"""OAuth sign-in, sign-out, the user's OAuth app, and the encrypted key file.

Secrets (the client secret and the key file passphrase) are typed into password
fields with ``SKIP_SAVE``, and the operators have no ``REGISTER`` option, so Blender
neither remembers them nor writes the call to the Info log. The values go to the
credential store and the properties are emptied.
"""

from __future__ import annotations

import logging

import bpy

from ..blender import runtime, signin
from ..core.errors import MeshportError
from .common import platform_property, report_failure

SIGN_IN_PLATFORM = "Id of the platform this signs in to"

log = logging.getLogger(__name__)


def _redraw_preferences() -> None:
    """Tag the Preferences editor of every window for redraw."""
    window_manager = bpy.context.window_manager
    if window_manager is None:
        return
    for window in window_manager.windows:
        for area in window.screen.areas if window.screen else ():
            if area.type == "PREFERENCES":
                area.tag_redraw()


class MESHPORT_OT_set_oauth_app(bpy.types.Operator):
    bl_idname = "meshport.set_oauth_app"
    bl_label = "Set OAuth App"
    bl_description = (
        "Enter the client id (and for Sketchfab the client secret and redirect port) of "
        "the OAuth app you registered with the platform"
    )
    bl_options = {"INTERNAL"}

    platform: platform_property(SIGN_IN_PLATFORM)
    client_id: bpy.props.StringProperty(
        name="Client ID", description="Client id of the OAuth app", options={"SKIP_SAVE"}
    )
    client_secret: bpy.props.StringProperty(
        name="Client Secret",
        description="Client secret of the OAuth app, stored in the keyring; empty keeps "
        "the stored one",
        subtype="PASSWORD",
        options={"SKIP_SAVE"},
    )
    redirect_port: bpy.props.IntProperty(
        name="Redirect Port",
        description="Port of the redirect URI http://127.0.0.1:<port>/callback registered "
        "for the app",
        min=0,
        max=65535,
        options={"SKIP_SAVE"},
    )

    def invoke(self, context, event):
        app = signin.oauth_app(self.platform)
        if app is not None:
            self.client_id = app.client_id
            self.redirect_port = app.redirect_port
        return context.window_manager.invoke_props_dialog(self, width=460)

    def draw(self, context):
        layout = self.layout
        layout.label(text=f"{signin.label(self.platform)} OAuth app")
        layout.prop(self, "client_id")
        if signin.SIGN_IN_FLOWS.get(self.platform) == signin.AUTHORIZATION_CODE:
            layout.prop(self, "client_secret")
            layout.prop(self, "redirect_port")

    def execute(self, context):
        secret = self.client_secret
        self.client_secret = ""
        try:
            signin.save_oauth_app(
                self.platform,
                self.client_id,
                client_secret=secret,
                redirect_port=self.redirect_port,
            )
        except MeshportError as error:
            return report_failure(self, error)
        self.report({"INFO"}, f"{signin.label(self.platform)} OAuth app stored.")
        return {"FINISHED"}


class MESHPORT_OT_sign_in(bpy.types.Operator):
    bl_idname = "meshport.sign_in"
    bl_label = "Sign In"
    bl_description = "Sign in with the OAuth app you registered (runs in the background)"
    bl_options = {"INTERNAL"}

    platform: platform_property(SIGN_IN_PLATFORM)

    def execute(self, context):
        try:
            signin.start_sign_in(
                runtime.get_runner(),
                self.platform,
                online_access=bool(bpy.app.online_access),
                redraw=_redraw_preferences,
            )
        except MeshportError as error:
            return report_failure(self, error)
        runtime.start_timer()
        return {"FINISHED"}


class MESHPORT_OT_cancel_sign_in(bpy.types.Operator):
    bl_idname = "meshport.cancel_sign_in"
    bl_label = "Cancel Sign-In"
    bl_description = "Stop waiting for the sign-in"
    bl_options = {"INTERNAL"}

    platform: platform_property(SIGN_IN_PLATFORM)

    def execute(self, context):
        signin.cancel_sign_in(self.platform)
        return {"FINISHED"}


class MESHPORT_OT_sign_out(bpy.types.Operator):
    bl_idname = "meshport.sign_out"
    bl_label = "Sign Out"
    bl_description = "Delete this platform's OAuth tokens from the keyring"
    bl_options = {"INTERNAL"}

    platform: platform_property(SIGN_IN_PLATFORM)

    def execute(self, context):
        try:
            signin.sign_out(self.platform)
        except MeshportError as error:
            return report_failure(self, error)
        self.report({"INFO"}, f"Signed out of {signin.label(self.platform)}.")
        return {"FINISHED"}


class MESHPORT_OT_copy_sign_in_code(bpy.types.Operator):
    bl_idname = "meshport.copy_sign_in_code"
    bl_label = "Copy Code"
    bl_description = "Copy the sign-in code to the clipboard"
    bl_options = {"INTERNAL"}

    platform: platform_property(SIGN_IN_PLATFORM)

    def execute(self, context):
        code = signin.sign_in_state(self.platform).user_code
        if not code:
            self.report({"ERROR"}, "No sign-in code is shown. Start the sign-in first.")
            return {"CANCELLED"}
        context.window_manager.clipboard = code
        return {"FINISHED"}


class MESHPORT_OT_open_key_file(bpy.types.Operator):
    bl_idname = "meshport.open_key_file"
    bl_label = "Encrypted Key File"
    bl_description = (
        "Keep keys in a file encrypted with a passphrase, because no system keyring exists"
    )
    bl_options = {"INTERNAL"}

    passphrase: bpy.props.StringProperty(
        name="Passphrase",
        description="Passphrase of the encrypted key file (Blender does not save it)",
        subtype="PASSWORD",
        options={"SKIP_SAVE"},
    )
    confirmation: bpy.props.StringProperty(
        name="Repeat Passphrase",
        description="The same passphrase again, when creating the file",
        subtype="PASSWORD",
        options={"SKIP_SAVE"},
    )

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self, width=460)

    def draw(self, context):
        layout = self.layout
        path = signin.key_file_path()
        if path.exists():
            layout.label(text=f"Unlock {path}")
            layout.prop(self, "passphrase")
        else:
            layout.label(text=f"Create {path}")
            layout.prop(self, "passphrase")
            layout.prop(self, "confirmation")

    def execute(self, context):
        passphrase, confirmation = self.passphrase, self.confirmation
        self.passphrase = ""
        self.confirmation = ""
        try:
            created = signin.open_key_file(passphrase, confirmation=confirmation)
        except MeshportError as error:
            return report_failure(self, error)
        verb = "created" if created else "unlocked"
        self.report({"INFO"}, f"Encrypted key file {verb}; keys are kept there from now on.")
        return {"FINISHED"}


classes = (
    MESHPORT_OT_set_oauth_app,
    MESHPORT_OT_sign_in,
    MESHPORT_OT_cancel_sign_in,
    MESHPORT_OT_sign_out,
    MESHPORT_OT_copy_sign_in_code,
    MESHPORT_OT_open_key_file,
)
