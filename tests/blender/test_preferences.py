"""The add-on preferences and the settings built from them."""

from __future__ import annotations

import bpy
import pytest
from meshport import preferences as preferences_module
from meshport.blender import paths, service
from meshport.blender.state import KEY_INVALID, KeyCheck, panel_state
from meshport.core.config import DEFAULT_BASE_URLS
from meshport.core.secrets import Secret

from blender.layout_recorder import LayoutRecorder


def test_preferences_use_base_package_name(addon):
    assert preferences_module.MeshportPreferences.bl_idname == paths.BASE_PACKAGE == "meshport"


def test_preferences_hold_no_key_property(addon):
    names = set(preferences_module.MeshportPreferences.bl_rna.properties.keys())

    assert not [name for name in names if "key" in name or "token" in name]


def test_user_data_dir_outside_extension_uses_default_repository(addon, user_resources):
    folder = service.user_data_dir()

    assert folder == user_resources / "extensions" / ".user" / "user_default" / "meshport"
    assert folder.is_dir()


def test_settings_take_base_url_from_preferences(preferences):
    preferences.polyhaven_url = "http://127.0.0.1:8765/polyhaven/"

    settings = service.settings_from_preferences(platform_id="polyhaven")

    assert settings.platform("polyhaven").base_url == "http://127.0.0.1:8765/polyhaven"


def test_environment_url_overrides_preference(preferences, monkeypatch):
    preferences.polyhaven_url = "http://127.0.0.1:8765/from-preferences"
    monkeypatch.setenv("MESHPORT_POLYHAVEN_URL", "http://127.0.0.1:9999/from-environment")

    settings = service.settings_from_preferences(platform_id="polyhaven")

    assert settings.platform("polyhaven").base_url == "http://127.0.0.1:9999/from-environment"


def test_empty_url_preference_means_default(preferences):
    preferences.polyhaven_url = ""

    settings = service.settings_from_preferences(platform_id="polyhaven")

    assert settings.platform("polyhaven").base_url == DEFAULT_BASE_URLS["polyhaven"]


def test_download_folder_defaults_under_user_data(preferences):
    preferences.download_folder = ""

    settings = service.settings_from_preferences(platform_id="polyhaven")

    assert settings.download_dir == service.user_data_dir() / "downloads"
    assert settings.data_dir == service.user_data_dir()


def test_download_folder_preference_is_used(preferences, tmp_path):
    preferences.download_folder = str(tmp_path / "my-downloads")

    settings = service.settings_from_preferences(platform_id="polyhaven")

    assert settings.download_dir == tmp_path / "my-downloads"


def test_local_folder_preference_is_used(preferences, tmp_path, monkeypatch):
    monkeypatch.delenv("MESHPORT_LOCAL_DIR", raising=False)
    preferences.local_folder = str(tmp_path)

    settings = service.settings_from_preferences(platform_id="local")

    assert settings.local_dir == tmp_path


@pytest.mark.parametrize(("storage", "packed"), [("PACK", True), ("COPY", False)])
def test_image_storage_preference_sets_packing(preferences, storage, packed):
    preferences.image_storage = storage

    assert service.import_options_from_preferences().pack_images is packed
    assert service.settings_from_preferences(platform_id="polyhaven").pack_images is packed


@pytest.mark.parametrize("allowed", [True, False])
def test_settings_follow_online_access(addon, allowed):
    system = bpy.context.preferences.system
    before = system.use_online_access
    system.use_online_access = allowed
    try:
        settings = service.settings_from_preferences(platform_id="polyhaven")
    finally:
        system.use_online_access = before

    assert settings.online_access is allowed


def test_preferences_show_missing_key(preferences, session_keys):
    layout = LayoutRecorder()

    preferences_module.draw_preferences(layout, preferences)

    text = layout.recording.texts()
    assert "Sketchfab: no key stored" in text
    assert "No system keyring was found, so keys last until Blender closes." in text
    set_buttons = layout.recording.operators("meshport.set_key")
    assert [button.values["platform"] for button in set_buttons] == ["sketchfab", "github"]


def test_preferences_show_stored_key_and_check(preferences, session_keys):
    session_keys.set("sketchfab", Secret("stored-key-value-123"))
    panel_state.key_checks["sketchfab"] = KeyCheck(
        KEY_INVALID, "Invalid: the API token is invalid."
    )
    layout = LayoutRecorder()

    preferences_module.draw_preferences(layout, preferences)

    text = layout.recording.joined_text()
    assert "Sketchfab: key stored" in text
    assert "Invalid: the API token is invalid." in text
    assert "stored-key-value-123" not in text


def test_preferences_say_environment_overrides_url(preferences, session_keys, monkeypatch):
    monkeypatch.setenv("MESHPORT_SKETCHFAB_URL", "http://127.0.0.1:9/v3")
    layout = LayoutRecorder()

    preferences_module.draw_preferences(layout, preferences)

    assert "MESHPORT_SKETCHFAB_URL is set and overrides this field." in layout.recording.texts()


def test_preferences_show_default_download_folder(preferences, session_keys):
    preferences.download_folder = ""
    layout = LayoutRecorder()

    preferences_module.draw_preferences(layout, preferences)

    expected = f"Downloads go to {service.user_data_dir() / 'downloads'}"
    assert expected in layout.recording.texts()


def test_ui_settings_ignore_environment_key(preferences, session_keys, monkeypatch):
    monkeypatch.setenv("MESHPORT_SKETCHFAB_KEY", "key-from-environment")

    settings = service.settings_from_preferences(platform_id="sketchfab")

    assert settings.platform("sketchfab").key is None


def test_command_line_settings_read_environment_key(addon, session_keys, monkeypatch):
    monkeypatch.setenv("MESHPORT_SKETCHFAB_KEY", "key-from-environment")

    settings = service.settings_for_command_line(offline=False)

    assert settings.platform("sketchfab").key.reveal() == "key-from-environment"
    assert settings.online_access is True


def test_command_line_offline_flag_turns_network_off(addon, session_keys):
    settings = service.settings_for_command_line(offline=True)

    assert settings.online_access is False
    assert settings.download_dir == service.user_data_dir() / "downloads"
