"""Exit status 2 and usage messages, in text and JSON mode."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from cli.runner import MESHPORT


def test_help_exits_0(meshport):
    run = meshport.run("--help")

    assert run.returncode == 0
    assert "search" in run.stdout
    assert "import" in run.stdout


def test_missing_command_exits_2(meshport):
    run = meshport.run()

    assert run.returncode == 2
    assert "a command is required" in run.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        ("--json", "search", "sketchfab", "--count", "0"),
        ("search", "--json", "sketchfab", "--count", "0"),
        ("search", "sketchfab", "--count", "0", "--json"),
    ],
    ids=["first", "middle", "last"],
)
def test_argparse_error_is_json_anywhere(meshport, arguments):
    run = meshport.run(*arguments)

    assert run.returncode == 2
    assert run.json()["error"]["kind"] == "usage"
    assert "--count" in run.json()["error"]["message"]


def test_unknown_option_exits_2(meshport):
    run = meshport.run("search", "sketchfab", "chair", "--colour", "red")

    assert run.returncode == 2
    assert "unrecognized arguments: --colour red" in run.stderr


def test_import_without_out_exits_2(meshport):
    run = meshport.run("import", "sketchfab:0123456789abcdef0123456789abcdef", "--json")

    assert run.returncode == 2
    assert "--out" in run.json()["error"]["message"]


def test_unknown_platform_exits_2(meshport):
    run = meshport.run("search", "nowhere", "chair", "--json")

    assert run.returncode == 2
    assert run.json()["error"]["kind"] == "usage"
    assert "nowhere" in run.json()["error"]["message"]


def test_import_unknown_platform_prefix_exits_2(meshport, tmp_path):
    run = meshport.run("import", "nowhere:abc", "--out", str(tmp_path / "x.blend"), "--json")

    assert run.returncode == 2
    assert "is not a platform" in run.json()["error"]["message"]
    assert not (tmp_path / "x.blend").exists()


def test_import_url_without_platform_exits_2(meshport, tmp_path):
    url = "https://sketchfab.com/3d-models/chair-0123456789abcdef0123456789abcdef"

    run = meshport.run("import", url, "--out", str(tmp_path / "x.blend"))

    assert run.returncode == 2
    assert f"sketchfab:{url}" in run.stderr


def test_out_without_blend_suffix_exits_2(meshport, tmp_path):
    run = meshport.run("import", "sketchfab:abc", "--out", str(tmp_path / "scene.glb"))

    assert run.returncode == 2
    assert "does not end in .blend" in run.stderr


def test_usage_error_prints_no_traceback(meshport):
    run = meshport.run("search", "nowhere", "chair")

    assert "Traceback" not in run.stderr


def test_missing_venv_names_make_venv(tmp_path):
    # A copy of the launcher in a checkout without .venv.
    (tmp_path / "bin").mkdir()
    shutil.copy(MESHPORT, tmp_path / "bin" / "meshport")

    completed = subprocess.run(
        [str(tmp_path / "bin" / "meshport"), "search", "sketchfab", "chair"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 2
    assert "make venv" in completed.stderr


def test_search_help_lists_every_registered_platform(meshport):
    from meshport.platforms.registry import CLIENT_CLASSES

    run = meshport.run("search", "--help")

    assert run.returncode == 0
    platform_help = next(line for line in run.stdout.splitlines() if "PLATFORM  " in line)
    for platform_id in CLIENT_CLASSES:
        assert platform_id in platform_help
