"""The sidebar's operators, run through ``bpy.ops`` against fake platform servers.

A job started by an operator finishes in ``JobRunner.wait``, which does what the
drain timer does in Blender's window.
"""

from __future__ import annotations

import shutil

import bpy
import pytest
from fakes.polyhaven import FakePolyHaven
from fakes.polyhaven import sample_library as polyhaven_library
from fakes.sketchfab import DEFAULT_API_KEY, FakeSketchfab, uid_for
from fakes.sketchfab import sample_library as sketchfab_library
from meshport.blender import runtime
from meshport.blender.state import (
    DOWNLOADING,
    ERROR,
    IDLE,
    KEY_INVALID,
    KEY_VALID,
    OFFLINE,
    SEARCHING,
    panel_state,
)
from support import SAMPLE_ASSETS, require

JOB_TIMEOUT = 60.0
SECRET_KEY = "mp-operator-test-key-4f1d9a7c2b"


@pytest.fixture(scope="module")
def library_assets():
    require(
        (SAMPLE_ASSETS / "MANIFEST.md").is_file(), f"sample assets not found in {SAMPLE_ASSETS}"
    )
    return SAMPLE_ASSETS


@pytest.fixture(scope="module")
def polyhaven_server(library_assets):
    with FakePolyHaven(polyhaven_library(library_assets)) as fake:
        yield fake


@pytest.fixture(scope="module")
def sketchfab_server(library_assets):
    with FakeSketchfab(sketchfab_library(library_assets)) as fake:
        yield fake


@pytest.fixture
def servers(polyhaven_server, sketchfab_server, preferences):
    """Point the preferences at both fake servers."""
    polyhaven_server.reset()
    sketchfab_server.reset()
    preferences.polyhaven_url = polyhaven_server.url
    preferences.sketchfab_url = sketchfab_server.api_base
    return polyhaven_server, sketchfab_server


@pytest.fixture
def sidebar(empty_scene):
    """The sidebar's inputs, reset after the test."""
    properties = bpy.context.window_manager.meshport
    yield properties
    properties.query = ""
    properties.platform = "sketchfab"
    panel_state.reset()


@pytest.fixture(autouse=True)
def _close_shared_files():
    yield
    from meshport.core import audit, ratelimit

    ratelimit.close_stores()
    audit.close_logs()


def current_job():
    job_id = panel_state.job_id
    assert job_id is not None, "no job is running"
    (job,) = [job for job in runtime.get_runner().jobs if job.job_id == job_id]
    return job


def finish_current_job():
    runtime.get_runner().wait(current_job(), timeout=JOB_TIMEOUT)


def test_search_operator_shows_results(sidebar, servers, online_access):
    sidebar.platform = "polyhaven"
    sidebar.query = "fox"

    assert bpy.ops.meshport.search() == {"FINISHED"}
    assert panel_state.phase == SEARCHING
    finish_current_job()

    assert panel_state.phase == IDLE
    assert [asset.name for asset in panel_state.results] == ["Fox"]
    assert panel_state.status_text == "1 result."


def test_search_operator_offline_sends_nothing(sidebar, servers, offline_access):
    polyhaven, _ = servers
    sidebar.platform = "polyhaven"

    with pytest.raises(RuntimeError, match="online access is off"):
        bpy.ops.meshport.search()

    assert panel_state.phase == OFFLINE
    assert "Allow Online Access" in panel_state.last_error
    assert polyhaven.requests_seen == []


def test_import_operator_imports_asset(sidebar, servers, online_access):
    assert bpy.ops.meshport.import_asset(asset_id="fox", platform="polyhaven") == {"FINISHED"}
    assert panel_state.phase == DOWNLOADING
    finish_current_job()

    assert panel_state.phase == IDLE
    assert panel_state.status_text == "Imported 'Fox' into the collection 'Fox'."
    assert len(bpy.data.collections["Fox"].objects) == 2


def test_import_operator_shows_failure(sidebar, servers, online_access):
    bpy.ops.meshport.import_asset(asset_id="no_such_asset", platform="polyhaven")
    finish_current_job()

    assert panel_state.phase == ERROR
    assert "no_such_asset" in panel_state.last_error
    assert len(bpy.data.objects) == 0


def test_import_operator_needs_asset_id(sidebar, servers, online_access):
    with pytest.raises(RuntimeError, match="No asset id"):
        bpy.ops.meshport.import_asset(asset_id="", platform="polyhaven")


def test_cancel_operator_stops_import(sidebar, servers, online_access):
    bpy.ops.meshport.import_asset(asset_id="fox", platform="polyhaven")
    job = current_job()

    assert bpy.ops.meshport.cancel() == {"FINISHED"}
    runtime.get_runner().wait(job, timeout=JOB_TIMEOUT)

    assert panel_state.phase == IDLE
    assert panel_state.status_text == "Cancelled."
    assert len(bpy.data.objects) == 0


def test_next_page_operator_adds_results(sidebar, preferences, tmp_path, online_access):
    library = tmp_path / "library"
    library.mkdir()
    for number in range(30):
        shutil.copy(SAMPLE_ASSETS / "glb" / "Box.glb", library / f"box_{number:02}.glb")
    preferences.local_folder = str(library)
    sidebar.platform = "local"
    sidebar.query = "box"
    bpy.ops.meshport.search()
    finish_current_job()
    assert len(panel_state.results) == 24

    assert bpy.ops.meshport.next_page() == {"FINISHED"}
    finish_current_job()

    assert len(panel_state.results) == 30
    assert panel_state.next_page is None
    assert not bpy.ops.meshport.next_page.poll()


def test_operators_wait_while_job_runs(sidebar):
    panel_state.start(SEARCHING, 99, "Searching")

    assert not bpy.ops.meshport.search.poll()
    assert not bpy.ops.meshport.import_asset.poll()
    assert bpy.ops.meshport.cancel.poll()


def test_cancel_unavailable_when_idle(sidebar):
    assert not bpy.ops.meshport.cancel.poll()


def test_dismiss_error_clears_message(sidebar):
    panel_state.last_error = "Sketchfab: something failed."
    panel_state.phase = ERROR

    bpy.ops.meshport.dismiss_error()

    assert panel_state.last_error == ""
    assert panel_state.phase == IDLE


# ---------------------------------------------------------------- keys


def test_set_key_stores_key(session_keys):
    bpy.ops.meshport.set_key(platform="sketchfab", key=f"  {SECRET_KEY}  ")

    assert session_keys.get("sketchfab").reveal() == SECRET_KEY
    assert panel_state.key_stored["sketchfab"] is True


def test_set_key_is_not_remembered(session_keys):
    bpy.ops.meshport.set_key(platform="sketchfab", key=SECRET_KEY)

    remembered = bpy.context.window_manager.operator_properties_last("meshport.set_key")
    assert remembered.key == ""


def test_set_key_rejects_empty_key(session_keys):
    with pytest.raises(RuntimeError, match="empty"):
        bpy.ops.meshport.set_key(platform="sketchfab", key="   ")

    assert not session_keys.has("sketchfab")


def test_clear_key_removes_key(session_keys):
    bpy.ops.meshport.set_key(platform="sketchfab", key=SECRET_KEY)

    bpy.ops.meshport.clear_key(platform="sketchfab")

    assert not session_keys.has("sketchfab")
    assert panel_state.key_stored["sketchfab"] is False


def validate_sketchfab_key():
    bpy.ops.meshport.validate_key(platform="sketchfab")
    (job,) = [job for job in runtime.get_runner().active_jobs() if "key check" in job.label]
    runtime.get_runner().wait(job, timeout=JOB_TIMEOUT)
    return panel_state.key_checks["sketchfab"]


def test_validate_key_reports_valid(session_keys, servers, online_access):
    bpy.ops.meshport.set_key(platform="sketchfab", key=DEFAULT_API_KEY)

    check = validate_sketchfab_key()

    assert check.outcome == KEY_VALID
    assert "meshport-tester" in check.text


def test_validate_key_reports_invalid(session_keys, servers, online_access):
    bpy.ops.meshport.set_key(platform="sketchfab", key="not-the-right-key")

    check = validate_sketchfab_key()

    assert check.outcome == KEY_INVALID


def test_validate_key_needs_stored_key(session_keys, servers, online_access):
    with pytest.raises(RuntimeError, match="No Sketchfab key is stored"):
        bpy.ops.meshport.validate_key(platform="sketchfab")


def test_sketchfab_import_uses_stored_key(sidebar, session_keys, servers, online_access):
    bpy.ops.meshport.set_key(platform="sketchfab", key=DEFAULT_API_KEY)

    bpy.ops.meshport.import_asset(asset_id=uid_for("Box"), platform="sketchfab")
    finish_current_job()

    assert panel_state.phase == IDLE, panel_state.last_error
    assert len(bpy.data.collections["Box"].objects) == 2


def test_key_reaches_neither_userpref_nor_blend(sidebar, session_keys, user_resources, tmp_path):
    bpy.ops.meshport.set_key(platform="sketchfab", key=SECRET_KEY)
    blend = tmp_path / "scene.blend"

    bpy.ops.wm.save_userpref()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))

    written = [path for path in user_resources.rglob("*") if path.is_file()] + [blend]
    assert any(path.name == "userpref.blend" for path in written)
    for path in written:
        assert SECRET_KEY.encode() not in path.read_bytes(), f"the key is in {path}"


def test_search_shows_remaining_request_budget(sidebar, servers, online_access):
    sidebar.platform = "polyhaven"
    bpy.ops.meshport.search()
    finish_current_job()

    runner = runtime.get_runner()
    for job in [job for job in runner.jobs if "request budget" in job.label]:
        runner.wait(job, timeout=JOB_TIMEOUT)

    assert panel_state.rate_limit_text.startswith("Poly Haven: ")
    assert "requests left per hour" in panel_state.rate_limit_text
