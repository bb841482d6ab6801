"""Imports through ``blender.service`` reuse the asset cache: the fake Sketchfab and
Poly Haven servers on 127.0.0.1 see no file request for a cached asset."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from fakes.sketchfab import uid_for
from meshport.blender import assets, service
from meshport.core.config import PlatformSettings
from meshport.core.models import Asset, DownloadOptions
from meshport.core.secrets import Secret

from blender.platform_fakes import JOB_TIMEOUT, Outcome


@pytest.fixture(autouse=True)
def _close_shared_files():
    yield
    from meshport.core import audit, ratelimit

    ratelimit.close_stores()
    audit.close_logs()
    assets.forget_caches()


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
    assert outcome.error is None, outcome.error
    return outcome.result


def file_requests(server) -> list:
    return server.requests_to("/storage/") + [
        seen for seen in server.requests_to("/v3/models/") if seen.path.endswith("/download")
    ]


def test_second_sketchfab_import_sends_no_file_request(empty_scene, runner, settings, sketchfab):
    uid = uid_for("Box")
    run_import(runner, settings, "sketchfab", uid)
    assert sketchfab.requests_to("/storage/"), "the first import downloaded nothing"
    sketchfab.requests_seen.clear()

    result = run_import(runner, settings, "sketchfab", uid)

    assert len(result.meshes) == 1
    assert file_requests(sketchfab) == []


def test_cached_sketchfab_import_lives_under_data_dir(empty_scene, runner, settings):
    run_import(runner, settings, "sketchfab", uid_for("Fox"))

    root = assets.cache_root(settings)
    assert root == settings.data_dir / "assets"
    assert assets.cache_size(settings) > 0
    assert list(root.rglob("*.gltf"))
    assert not list(settings.download_dir.rglob("*.gltf"))


def test_corrupted_cache_entry_is_downloaded_again(empty_scene, runner, settings, sketchfab):
    uid = uid_for("Cesium Man")
    run_import(runner, settings, "sketchfab", uid)
    (cached,) = list(assets.cache_root(settings).rglob("*.glb"))
    data = bytearray(cached.read_bytes())
    data[-1] ^= 0xFF  # same size, so only the md5 check can notice
    cached.write_bytes(bytes(data))
    sketchfab.requests_seen.clear()

    result = run_import(runner, settings, "sketchfab", uid)

    assert len(result.meshes) == 1
    assert sketchfab.requests_to("/storage/")


def test_truncated_cache_file_is_downloaded_again(empty_scene, runner, settings, polyhaven):
    run_import(runner, settings, "polyhaven", "fox")
    (cached,) = list(assets.cache_root(settings).rglob("*.bin"))
    cached.write_bytes(cached.read_bytes()[:100])
    polyhaven.requests_seen.clear()

    result = run_import(runner, settings, "polyhaven", "fox")

    assert len(result.armatures) == 1
    assert polyhaven.requests_to("/dl/")


def test_second_polyhaven_import_sends_no_file_request(empty_scene, runner, settings, polyhaven):
    run_import(runner, settings, "polyhaven", "fox")
    polyhaven.requests_seen.clear()

    result = run_import(runner, settings, "polyhaven", "fox")

    assert len(result.armatures) == 1
    assert polyhaven.requests_to("/dl/") == []
    assert polyhaven.requests_to("/files/") == []


def test_other_variant_is_cached_separately(empty_scene, runner, settings, polyhaven):
    run_import(runner, settings, "polyhaven", "fox")
    polyhaven.requests_seen.clear()

    result = run_import(
        runner, settings, "polyhaven", "fox", download_options=DownloadOptions(file_format="gltf")
    )

    assert len(result.armatures) == 1
    assert polyhaven.requests_to("/dl/")


def test_asset_without_version_is_not_cached(empty_scene, runner, settings):
    outcome = Outcome()
    job = service.start_import(
        runner,
        settings,
        "sketchfab",
        uid_for("Box Meshopt"),
        on_done=outcome.done,
        on_error=outcome.failed,
    )
    runner.wait(job, timeout=JOB_TIMEOUT)

    assert assets.cache_size(settings) == 0
    assert len(list(settings.download_dir.rglob("*.glb"))) == 1


def test_local_file_is_imported_in_place(empty_scene, runner, settings, sample_assets, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(sample_assets / "glb" / "Box.glb", library / "Box.glb")
    local = replace(settings, local_dir=library)

    result = run_import(runner, local, "local", "Box.glb")

    assert len(result.meshes) == 1
    assert assets.cache_size(local) == 0


def test_cache_cap_comes_from_settings(settings):
    small = replace(settings, asset_cache_max_bytes=1234)

    assert assets.asset_cache(small).max_bytes == 1234


def asset(platform_id: str, version: str | None = "v1") -> Asset:
    return Asset(platform=platform_id, asset_id="a1", name="A", version=version)


@pytest.mark.parametrize("platform_id", ["sketchfab", "polyhaven", "github"])
def test_shared_platform_key_has_no_credential(settings, platform_id):
    keyed = settings.with_platform(PlatformSettings(platform_id, key=Secret("key-one")))

    key = assets.cache_key(keyed, asset(platform_id))

    assert key.credential == ""


def test_per_user_platform_key_has_credential_fingerprint(settings):
    secret = Secret("mixamo-token-one")
    keyed = settings.with_platform(PlatformSettings("mixamo", key=secret))

    key = assets.cache_key(keyed, asset("mixamo"))

    assert key.credential == secret.fingerprint()
    assert "mixamo-token-one" not in repr(key)


def test_cache_key_variant_names_format_and_resolution(settings):
    options = DownloadOptions(file_format="fbx", resolution="2k")

    key = assets.cache_key(settings, asset("polyhaven"), options)

    assert key.variant == "fbx-2k"


@pytest.mark.parametrize(
    ("platform_id", "version"), [("local", "12-345"), ("sketchfab", None), ("sketchfab", "")]
)
def test_uncached_assets_have_no_key(settings, platform_id, version):
    assert assets.cache_key(settings, asset(platform_id, version)) is None
