"""``meshport status`` and ``bin/meshport-demo``."""

from __future__ import annotations

import subprocess

import pytest

from cli.runner import REPO_ROOT, RUN_TIMEOUT, clean_environment

DEMO = REPO_ROOT / "bin" / "meshport-demo"


def test_status_names_key_source_without_key(meshport):
    run = meshport.run("status", "--json", env={"MESHPORT_SKETCHFAB_KEY": "secret-key-5678"})

    assert run.returncode == 0, run.stderr
    platforms = run.json()["platforms"]
    assert platforms["sketchfab"]["key"] == "environment (MESHPORT_SKETCHFAB_KEY)"
    assert platforms["polyhaven"]["key"] == "not used"
    assert "secret-key-5678" not in run.stdout + run.stderr


def test_status_text_lists_every_platform(meshport):
    run = meshport.run("status")

    assert run.returncode == 0, run.stderr
    for label in ("Sketchfab (sketchfab)", "Poly Haven (polyhaven)", "Local library (local)"):
        assert label in run.stdout


@pytest.mark.slow
def test_demo_imports_character_crate_and_boulder(meshport, tmp_path):
    out = tmp_path / "demo.blend"

    completed = subprocess.run(
        [str(DEMO), "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        env=clean_environment(meshport.user_dir, meshport.temp_dir),
        timeout=RUN_TIMEOUT,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert out.is_file()
    assert "armatures:  Figure Rig" in completed.stdout
    assert "actions:    Walk" in completed.stdout
    assert (
        "GET /dl/polyhaven/granite_boulder/gltf/1k/granite_boulder_1k.gltf 200" in completed.stdout
    )
    assert list(meshport.temp_dir.iterdir()) == []


def test_status_health_lists_registered_platforms_only(meshport):
    from meshport.platforms.registry import CLIENT_CLASSES

    run = meshport.run("status", "--json")

    assert run.returncode == 0, run.stderr
    health = run.json()["health"]["platforms"]
    assert set(health) == set(CLIENT_CLASSES)
    assert "fab" not in health
    assert "mixamo" not in health


@pytest.mark.parametrize("platform_id", ["local", "unity"])
def test_status_shows_no_budget_without_requests(meshport, platform_id):
    run = meshport.run("status", "--json")

    assert run.returncode == 0, run.stderr
    record = run.json()["health"]["platforms"][platform_id]
    assert "budget" not in record
    assert "rate_limit" not in record
    assert run.json()["health"]["platforms"]["sketchfab"]["rate_limit"]


def test_status_text_shows_no_budget_for_local(meshport):
    run = meshport.run("status")

    assert run.returncode == 0, run.stderr
    local_block = run.stdout.split("Local library (local)")[1].split("\n\n")[0]
    assert "budget:" not in local_block
    assert "(fab)" not in run.stdout
    assert "(mixamo)" not in run.stdout
