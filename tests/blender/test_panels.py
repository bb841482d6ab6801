"""Every panel's draw runs in every sidebar state against a layout stand-in that
checks each call against Blender's UILayout description."""

from __future__ import annotations

from types import SimpleNamespace

import bpy
import pytest
from meshport.blender import state as states
from meshport.blender.state import panel_state
from meshport.core.errors import NetworkError, OfflineError, RateLimitedError
from meshport.core.models import Asset, SearchPage, SearchQuery
from meshport.panels import sidebar
from meshport.platforms.base import PlatformClient

from blender.layout_recorder import LayoutRecorder, fake_context, fake_panel

FULL_ASSET = Asset(
    platform="sketchfab",
    asset_id="0123456789abcdef0123456789abcdef",
    name="A very long model name that needs more than one line in a narrow sidebar",
    author="Cesium",
    license="CC Attribution",
    url="https://sketchfab.com/3d-models/box-0123456789abcdef0123456789abcdef",
    download_size=1_664_000,
    face_count=12_345,
)
SPARSE_ASSET = Asset(platform="sketchfab", asset_id="fedcba9876543210fedcba9876543210", name="Box")
ERROR_TEXT = "Sketchfab: the connection to api.sketchfab.com was refused. Try again later."


def set_idle():
    panel_state.reset()


def set_searching():
    panel_state.reset()
    panel_state.start(states.SEARCHING, 7, "Searching for 'fox'")


def set_downloading():
    panel_state.reset()
    page = SearchPage([FULL_ASSET, SPARSE_ASSET], next_page="https://example.invalid/next")
    panel_state.show_results("sketchfab", SearchQuery("box"), page, append=False)
    panel_state.start(states.DOWNLOADING, 8, "Downloading 'Box'")
    panel_state.show_progress(0.4, "Box (GLB): 40%")


def set_importing():
    set_downloading()
    panel_state.phase = states.IMPORTING
    panel_state.show_progress(1.0, "Importing 'Box'")


def set_error():
    panel_state.reset()
    panel_state.show_error(NetworkError(ERROR_TEXT))


def set_rate_limited():
    panel_state.reset()
    panel_state.show_error(RateLimitedError("Sketchfab: rate limited, wait 30 s.", retry_after=30))


def set_offline():
    panel_state.reset()
    panel_state.show_error(OfflineError("Sketchfab: online access is off."))


STATES = {
    "idle": set_idle,
    "searching": set_searching,
    "downloading": set_downloading,
    "importing": set_importing,
    "error": set_error,
    "rate_limited": set_rate_limited,
    "offline": set_offline,
}
PANELS = (sidebar.MESHPORT_PT_sidebar, sidebar.MESHPORT_PT_results)
PLATFORMS = ("sketchfab", "polyhaven", "local")


@pytest.fixture
def sidebar_state(addon):
    """Mark the Sketchfab key as not stored, so drawing reads no keyring, and reset
    the sidebar state and the platform choice after the test."""
    window_manager = bpy.context.window_manager
    before = window_manager.meshport.platform
    panel_state.key_stored["sketchfab"] = False
    yield panel_state
    window_manager.meshport.platform = before
    panel_state.reset()
    panel_state.key_stored.clear()


def draw(panel_class, region_width: int = 300):
    layout = LayoutRecorder()
    panel_class.draw(fake_panel(layout), fake_context(region_width))
    return layout.recording


@pytest.mark.parametrize("platform_id", PLATFORMS)
@pytest.mark.parametrize("state_name", sorted(STATES))
@pytest.mark.parametrize("panel_class", PANELS, ids=lambda cls: cls.__name__)
def test_panel_draws_in_every_state(
    sidebar_state, offline_access, panel_class, state_name, platform_id
):
    bpy.context.window_manager.meshport.platform = platform_id
    STATES[state_name]()

    recording = draw(panel_class)

    assert recording.calls, f"{panel_class.__name__} drew nothing"


def test_sidebar_shows_progress_bar_and_cancel(sidebar_state, online_access):
    set_downloading()

    recording = draw(sidebar.MESHPORT_PT_sidebar)

    (bar,) = recording.named("progress")
    assert bar.arguments["factor"] == pytest.approx(0.4)
    assert bar.arguments["text"] == "Box (GLB): 40%"
    assert recording.operators("meshport.cancel")


def test_sidebar_shows_searching_without_fraction(sidebar_state, online_access):
    set_searching()

    (bar,) = draw(sidebar.MESHPORT_PT_sidebar).named("progress")

    assert bar.arguments["factor"] == 0.0
    assert bar.arguments["text"] == "Searching for 'fox'"


def test_sidebar_shows_last_error_in_full(sidebar_state, online_access):
    set_error()

    recording = draw(sidebar.MESHPORT_PT_sidebar, region_width=200)

    assert ERROR_TEXT in recording.joined_text()
    assert recording.operators("meshport.dismiss_error")
    assert not recording.named("progress")


def test_sidebar_shows_rate_limit_wait(sidebar_state, online_access):
    set_rate_limited()

    text = draw(sidebar.MESHPORT_PT_sidebar).joined_text()

    assert "rate limited, wait 30 s" in text


def test_sidebar_explains_offline_access(sidebar_state, offline_access):
    bpy.context.window_manager.meshport.platform = "sketchfab"
    set_idle()

    recording = draw(sidebar.MESHPORT_PT_sidebar, region_width=2000)

    assert 'Turn on "Allow Online Access" in Preferences > System' in recording.joined_text()
    (preferences_button,) = recording.operators("screen.userpref_show")
    assert preferences_button.values["section"] == "SYSTEM"


def test_sidebar_shows_no_offline_notice_for_local_library(sidebar_state, offline_access):
    bpy.context.window_manager.meshport.platform = "local"
    set_idle()

    recording = draw(sidebar.MESHPORT_PT_sidebar)

    assert not recording.operators("screen.userpref_show")


def test_sidebar_credits_poly_haven(sidebar_state, online_access):
    bpy.context.window_manager.meshport.platform = "polyhaven"
    set_idle()

    assert "Powered by Poly Haven" in draw(sidebar.MESHPORT_PT_sidebar).texts()


def test_sidebar_asks_for_missing_sketchfab_key(sidebar_state, online_access):
    bpy.context.window_manager.meshport.platform = "sketchfab"
    set_idle()

    recording = draw(sidebar.MESHPORT_PT_sidebar, region_width=2000)

    assert "Downloading needs a Sketchfab API key" in recording.joined_text()
    (button,) = recording.operators("preferences.addon_show")
    assert button.values["module"] == "meshport"


class UnofficialClient(PlatformClient):
    platform_id = "unofficial"
    label = "Example Store"
    official = False

    def search(self, query, context=None):
        raise NotImplementedError

    def get_asset(self, asset_id, context=None):
        raise NotImplementedError

    def download(self, asset, destination, context, options=None):
        raise NotImplementedError


def test_platform_notices_warn_about_unofficial_api(addon):
    layout = LayoutRecorder()

    sidebar.draw_platform_notices(layout, "unofficial", UnofficialClient, 2000)

    text = layout.recording.joined_text()
    assert "Unofficial: Meshport uses Example Store's private web API" in text


def test_platform_notices_name_unloadable_client(addon):
    layout = LayoutRecorder()

    sidebar.draw_platform_notices(layout, "github", None, 2000)

    assert "could not be loaded" in layout.recording.joined_text()


def test_results_list_each_asset_with_import_button(sidebar_state, online_access):
    set_downloading()
    panel_state.finish()

    recording = draw(sidebar.MESHPORT_PT_results, region_width=2000)

    buttons = recording.operators("meshport.import_asset")
    assert [button.values["asset_id"] for button in buttons] == [
        FULL_ASSET.asset_id,
        SPARSE_ASSET.asset_id,
    ]
    text = recording.joined_text()
    assert "by Cesium" in text
    assert "Licence: CC Attribution" in text
    assert "1.7 MB, 12,345 faces" in text
    assert "size unknown, faces unknown" in text
    assert "by unknown author" in text
    assert recording.operators("meshport.next_page")


def test_results_without_next_page_have_no_more_button(sidebar_state, online_access):
    panel_state.show_results("local", SearchQuery("box"), SearchPage([SPARSE_ASSET]), append=False)

    recording = draw(sidebar.MESHPORT_PT_results)

    assert not recording.operators("meshport.next_page")


def test_results_show_the_notice_of_the_latest_page(sidebar_state, online_access):
    notice = "GitHub's search timed out and returned only part of the matches."
    partial = SearchPage([SPARSE_ASSET], notice=notice)
    panel_state.show_results("github", SearchQuery("box"), partial, append=False)

    assert notice in draw(sidebar.MESHPORT_PT_results, region_width=2000).joined_text()

    complete = SearchPage([FULL_ASSET])
    panel_state.show_results("github", SearchQuery("box"), complete, append=True)

    assert notice not in draw(sidebar.MESHPORT_PT_results, region_width=2000).joined_text()


def test_offline_failure_shows_notice_not_error(sidebar_state, offline_access):
    bpy.context.window_manager.meshport.platform = "sketchfab"
    set_offline()

    recording = draw(sidebar.MESHPORT_PT_sidebar, region_width=2000)

    assert recording.operators("screen.userpref_show")
    assert "Sketchfab: online access is off." not in recording.joined_text()


def test_offline_failure_shows_error_once_online_again(sidebar_state, online_access):
    bpy.context.window_manager.meshport.platform = "sketchfab"
    set_offline()

    recording = draw(sidebar.MESHPORT_PT_sidebar, region_width=2000)

    assert not recording.operators("screen.userpref_show")
    assert "Sketchfab: online access is off." in recording.joined_text()


@pytest.mark.parametrize(
    ("width", "scale", "expected"), [(300, 1.0, 36), (600, 2.0, 36), (0, 1.0, 30), (80, 1.0, 16)]
)
def test_line_characters_follow_region_width(width, scale, expected):
    from meshport.panels.text import line_characters

    context = SimpleNamespace(
        region=SimpleNamespace(width=width),
        preferences=SimpleNamespace(system=SimpleNamespace(ui_scale=scale)),
    )

    assert line_characters(context) == expected
