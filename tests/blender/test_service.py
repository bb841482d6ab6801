"""End to end through ``blender.service``: search and download from the fake
Sketchfab and Poly Haven servers on 127.0.0.1, import into the scene, check it."""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import replace
from pathlib import Path

import bpy
import pytest
from fakes.sketchfab import DEFAULT_API_KEY, uid_for
from meshport.blender import service
from meshport.blender.state import (
    KEY_INVALID,
    KEY_NETWORK_ERROR,
    KEY_RATE_LIMITED,
    key_check_failed,
)
from meshport.core.errors import (
    AuthenticationError,
    JobCancelledError,
    MeshportError,
    OfflineError,
    UnsupportedFileError,
)
from meshport.core.models import DownloadOptions, SearchQuery

from blender.platform_fakes import JOB_TIMEOUT, Outcome


@pytest.fixture(autouse=True)
def _close_shared_files():
    """Close the rate stores and audit logs each test's data folder opened."""
    yield
    from meshport.core import audit, ratelimit

    ratelimit.close_stores()
    audit.close_logs()


def run_search(runner, settings, platform_id, text):
    outcome = Outcome()
    job = service.start_search(
        runner,
        settings,
        platform_id,
        SearchQuery(text),
        on_done=outcome.done,
        on_error=outcome.failed,
    )
    runner.wait(job, timeout=JOB_TIMEOUT)
    assert outcome.error is None, outcome.error
    return outcome.result


def run_import(runner, settings, platform_id, asset_id, **options):
    outcome = Outcome()
    job = service.start_import(
        runner,
        settings,
        platform_id,
        asset_id,
        on_done=outcome.done,
        on_error=outcome.failed,
        **options,
    )
    runner.wait(job, timeout=JOB_TIMEOUT)
    return job, outcome


def test_sketchfab_search_then_import(empty_scene, runner, settings):
    page = run_search(runner, settings, "sketchfab", "fox")
    (fox,) = [asset for asset in page.results if asset.name == "Fox"]

    job, outcome = run_import(runner, settings, "sketchfab", fox.asset_id)

    assert job.state == "done"
    result = outcome.result
    assert result.collection_name == "Fox"
    assert len(result.meshes) == 1
    assert len(result.armatures) == 1
    assert len(result.actions) == 3
    assert len(result.images) == 1


def test_sketchfab_import_packs_images_out_of_downloads(empty_scene, runner, settings):
    _, outcome = run_import(runner, settings, "sketchfab", uid_for("Fox"))

    (name,) = outcome.result.images
    image = bpy.data.images[name]
    assert image.packed_file is not None
    assert str(settings.download_dir) not in image.filepath_raw
    assert str(settings.download_dir) not in image.packed_files[0].filepath


def test_sketchfab_import_records_provenance(empty_scene, runner, settings, sketchfab):
    uid = uid_for("Cesium Man")

    _, outcome = run_import(runner, settings, "sketchfab", uid)

    result = outcome.result
    assert len(result.armatures) == 1
    assert len(result.actions) == 1
    viewer_url = f"{sketchfab.url}/3d-models/cesium-man-{uid}"
    assert result.credits_line == (
        f'"Cesium Man" by Cesium (Sketchfab, {viewer_url}), licence: CC Attribution'
    )
    for name in result.objects:
        obj = bpy.data.objects[name]
        assert obj["meshport_platform"] == "sketchfab"
        assert obj["meshport_asset_id"] == uid


def test_sketchfab_import_of_glb_box(empty_scene, runner, settings, sketchfab):
    _, outcome = run_import(runner, settings, "sketchfab", uid_for("Box"))

    assert len(outcome.result.meshes) == 1
    assert sketchfab.requests_to("/storage/")


def test_meshopt_model_fails_and_keeps_download(empty_scene, runner, settings):
    job, outcome = run_import(runner, settings, "sketchfab", uid_for("Box Meshopt"))

    assert job.state == "failed"
    assert isinstance(outcome.error, UnsupportedFileError)
    assert "EXT_meshopt_compression" in outcome.error.message
    assert outcome.error.message.startswith("Sketchfab 'Box Meshopt': ")
    assert len(bpy.data.objects) == 0
    kept_files = list(Path(settings.download_dir).rglob("*.glb"))
    assert len(kept_files) == 1
    assert f"stays in {kept_files[0].parent} for another try" in outcome.error.message


def test_polyhaven_gltf_import(empty_scene, runner, settings):
    page = run_search(runner, settings, "polyhaven", "fox")
    assert [asset.asset_id for asset in page.results] == ["fox"]

    _, outcome = run_import(runner, settings, "polyhaven", "fox")

    result = outcome.result
    assert len(result.armatures) == 1
    assert len(result.actions) == 3
    assert bpy.data.images[result.images[0]].packed_file is not None
    assert "(Poly Haven, " in result.credits_line
    assert result.credits_line.endswith("licence: CC0")


def test_polyhaven_fbx_import(empty_scene, runner, settings):
    _, outcome = run_import(
        runner,
        settings,
        "polyhaven",
        "blender_default_scene",
        download_options=DownloadOptions(file_format="fbx"),
    )

    assert len(outcome.result.meshes) == 1
    assert {bpy.data.objects[name].type for name in outcome.result.objects} == {
        "MESH",
        "CAMERA",
        "LIGHT",
    }


def test_offline_search_sends_nothing(empty_scene, runner, settings, sketchfab):
    offline = replace(settings, online_access=False)

    with pytest.raises(OfflineError):
        service.start_search(
            runner, offline, "sketchfab", SearchQuery("fox"), on_done=None, on_error=None
        )

    assert sketchfab.requests_seen == []


def test_offline_import_sends_nothing(empty_scene, runner, settings, polyhaven):
    offline = replace(settings, online_access=False)

    with pytest.raises(OfflineError):
        service.start_import(runner, offline, "polyhaven", "fox")

    assert polyhaven.requests_seen == []


def test_local_library_works_offline(empty_scene, runner, settings, sample_assets, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(sample_assets / "glb" / "Box.glb", library / "Box.glb")
    offline = replace(settings, online_access=False, local_dir=library)

    page = run_search(runner, offline, "local", "box")
    job, outcome = run_import(runner, offline, "local", page.results[0].asset_id)

    assert job.state == "done"
    assert len(outcome.result.meshes) == 1
    assert outcome.result.asset.platform == "local"


def test_cancel_after_download_imports_nothing(empty_scene, runner, settings):
    outcome = Outcome()
    job = service.start_import(
        runner, settings, "sketchfab", uid_for("Box"), on_done=outcome.done, on_error=outcome.failed
    )
    deadline = time.monotonic() + JOB_TIMEOUT
    while not any(queued[0] is job and queued[1] == "done" for queued in list(runner.events.queue)):
        assert time.monotonic() < deadline, "the download did not finish"
        time.sleep(0.01)

    job.cancel()
    runner.wait(job, timeout=JOB_TIMEOUT)

    assert isinstance(outcome.error, JobCancelledError)
    assert outcome.result is None
    assert len(bpy.data.objects) == 0


def test_key_check_returns_account(runner, settings):
    outcome = Outcome()
    job = service.start_key_check(
        runner, settings, "sketchfab", on_done=outcome.done, on_error=outcome.failed
    )
    runner.wait(job, timeout=JOB_TIMEOUT)

    assert outcome.result.username == "meshport-tester"


def check_key(runner, settings) -> MeshportError:
    outcome = Outcome()
    job = service.start_key_check(
        runner, settings, "sketchfab", on_done=outcome.done, on_error=outcome.failed
    )
    runner.wait(job, timeout=JOB_TIMEOUT)
    assert outcome.error is not None
    return outcome.error


def test_key_check_tells_invalid_key(runner, make_settings, sketchfab):
    settings = make_settings({"sketchfab": sketchfab.api_base}, keys={"sketchfab": "wrong-key"})

    error = check_key(runner, settings)

    assert isinstance(error, AuthenticationError)
    assert key_check_failed(error).outcome == KEY_INVALID


def test_key_check_tells_rate_limit(runner, settings, sketchfab):
    sketchfab.fail("me", 429, retry_after=3600)

    error = check_key(runner, settings)

    assert key_check_failed(error).outcome == KEY_RATE_LIMITED


def test_key_check_tells_network_error(runner, make_settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(
        {"sketchfab": f"http://127.0.0.1:{port}/v3"},
        keys={"sketchfab": DEFAULT_API_KEY},
        retry_budget_seconds=0.0,
    )

    error = check_key(runner, settings)

    assert key_check_failed(error).outcome == KEY_NETWORK_ERROR
