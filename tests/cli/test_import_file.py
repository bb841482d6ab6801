"""``meshport import PATH``: local files, folders and zips, and the files Blender rejects."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest


def import_json(meshport, source: Path, out: Path):
    return meshport.run("import", str(source), "--out", str(out), "--json")


@pytest.mark.parametrize(
    "relative",
    [
        "glb/Box.glb",
        "glb/Box_Draco.glb",
        "gltf/Fox/Fox.gltf",
        "fbx/maya_cube_7400_binary.fbx",
        "obj/blender_279_ball_0_obj.obj",
    ],
)
def test_import_local_file(meshport, sample_assets, tmp_path, relative):
    out = tmp_path / "scene.blend"

    run = import_json(meshport, sample_assets / relative, out)

    assert run.returncode == 0, run.stderr
    assert run.json()["meshes"]
    assert out.is_file()


def test_import_gltf_folder(meshport, sample_assets, tmp_path):
    run = import_json(meshport, sample_assets / "gltf" / "Fox", tmp_path / "fox.blend")

    assert run.returncode == 0, run.stderr
    assert run.json()["armatures"]
    assert len(run.json()["actions"]) == 3
    assert run.json()["images"]


def test_import_zip_with_model_three_folders_deep(meshport, sample_assets, tmp_path):
    archive = tmp_path / "fox.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in (sample_assets / "gltf" / "Fox").iterdir():
            bundle.write(path, f"one/two/three/{path.name}")

    run = import_json(meshport, archive, tmp_path / "fox.blend")

    assert run.returncode == 0, run.stderr
    assert run.json()["meshes"]
    assert run.json()["images"]


def test_import_zip_without_model_fails(meshport, tmp_path):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("docs/readme.txt", "no model here")
    out = tmp_path / "notes.blend"

    run = import_json(meshport, archive, out)

    assert run.returncode == 1
    assert "no GLB, glTF, FBX or OBJ" in run.json()["error"]["message"]
    assert not out.exists()


def test_ascii_fbx_fails_with_clear_message(meshport, sample_assets, tmp_path):
    out = tmp_path / "ascii.blend"

    run = import_json(meshport, sample_assets / "fbx" / "maya_cube_7400_ascii.fbx", out)

    assert run.returncode == 1
    message = run.json()["error"]["message"]
    assert "maya_cube_7400_ascii.fbx" in message
    assert "ASCII" in message
    assert "Traceback" not in run.stderr
    assert not out.exists()


def test_old_fbx_fails_with_clear_message(meshport, sample_assets, tmp_path):
    out = tmp_path / "old.blend"

    run = import_json(meshport, sample_assets / "fbx" / "maya_cube_6100_binary.fbx", out)

    assert run.returncode == 1
    assert "6100" in run.json()["error"]["message"]
    assert not out.exists()


def test_meshopt_glb_names_the_extension(meshport, sample_assets, tmp_path):
    out = tmp_path / "meshopt.blend"

    run = import_json(meshport, sample_assets / "glb" / "BoxMeshopt.glb", out)

    assert run.returncode == 1
    assert "EXT_meshopt_compression" in run.json()["error"]["message"]
    assert not out.exists()


def test_missing_file_fails(meshport, tmp_path):
    out = tmp_path / "missing.blend"

    run = import_json(meshport, tmp_path / "nowhere.glb", out)

    assert run.returncode == 1
    assert run.json()["error"]["kind"] == "not_found"
    assert not out.exists()


def test_text_output_names_what_was_imported(meshport, sample_assets, tmp_path):
    out = tmp_path / "fox.blend"

    run = meshport.run("import", str(sample_assets / "glb" / "Fox.glb"), "--out", str(out))

    assert run.returncode == 0, run.stderr
    assert "armatures:" in run.stdout
    assert f"Saved {out}" in run.stdout


def test_json_output_is_the_only_stdout(meshport, sample_assets, tmp_path):
    # The importers print progress; it must not reach standard output.
    run = import_json(
        meshport, sample_assets / "fbx" / "maya_cube_7400_binary.fbx", tmp_path / "cube.blend"
    )

    assert run.returncode == 0, run.stderr
    assert set(run.json()) >= {
        "out",
        "objects",
        "meshes",
        "armatures",
        "actions",
        "images",
        "credits",
    }


def test_file_import_works_offline(meshport, sample_assets, tmp_path):
    run = meshport.run(
        "import",
        str(sample_assets / "glb" / "Box.glb"),
        "--offline",
        "--out",
        str(tmp_path / "box.blend"),
    )

    assert run.returncode == 0, run.stderr


def test_file_import_leaves_temp_folder_empty(meshport, sample_assets, tmp_path):
    archive = tmp_path / "box.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(sample_assets / "glb" / "Box.glb", "a/b/Box.glb")

    run = import_json(meshport, archive, tmp_path / "box.blend")

    assert run.returncode == 0, run.stderr
    assert list(meshport.temp_dir.iterdir()) == []
