"""``meshport import PATH``: local files, folders and zips, and the files Blender rejects."""

from __future__ import annotations

import base64
import json
import shutil
import struct
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


# Empty and damaged files


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.zip", b"", "the file is empty (0 bytes)"),
        ("corrupt.zip", b"just some text\n", "not a valid zip archive"),
    ],
)
def test_damaged_zip_names_the_file(meshport, tmp_path, name, content, expected):
    archive = tmp_path / name
    archive.write_bytes(content)
    out = tmp_path / "scene.blend"

    run = import_json(meshport, archive, out)

    assert run.returncode == 1
    message = run.json()["error"]["message"]
    assert message.startswith(f"{archive}: ")
    assert expected in message
    assert "not '.zip' files" not in message
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".glb", ".gltf", ".fbx", ".obj"])
def test_empty_model_file_says_empty(meshport, tmp_path, suffix):
    model = tmp_path / f"empty{suffix}"
    model.write_bytes(b"")
    out = tmp_path / "scene.blend"

    run = import_json(meshport, model, out)

    assert run.returncode == 1
    message = run.json()["error"]["message"]
    assert message.startswith(f"{model}: the file is empty (0 bytes)")
    assert "Export the model again" in message
    assert "b''" not in message
    assert "download" not in message.lower()
    assert "kept in" not in message
    assert not out.exists()


# Folders and archives with several models


def test_zip_with_two_models_names_the_zip(meshport, sample_assets, tmp_path):
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(sample_assets / "glb" / "Box.glb", "Box.glb")
        bundle.write(sample_assets / "glb" / "Fox.glb", "Fox.glb")
        bundle.write(sample_assets / "fbx" / "maya_cube_7400_binary.fbx", "cube.fbx")

    run = import_json(meshport, archive, tmp_path / "two.blend")

    assert run.returncode == 1
    message = run.json()["error"]["message"]
    assert message.startswith(f"{archive}: holds 2 GLB models and 1 FBX model")
    assert "Box.glb, Fox.glb, cube.fbx" in message
    assert "content:" not in message


def test_folder_with_several_models_names_the_folder(meshport, sample_assets, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for relative in ("glb/Box.glb", "glb/Fox.glb", "obj/blender_279_ball_0_obj.obj"):
        shutil.copy(sample_assets / relative, folder)

    run = import_json(meshport, folder, tmp_path / "models.blend")

    assert run.returncode == 1
    message = run.json()["error"]["message"]
    assert message.startswith(f"{folder}: holds 2 GLB models and 1 OBJ model")
    assert "one model per folder" in message
    assert "archive" not in message
    assert "Extract" not in message
    assert str(folder / "Box.glb") in message


# Unity packages


def test_unity_package_with_one_model_imports_it(meshport, sample_assets, tmp_path):
    package = sample_assets / "unitypackage" / "negative_scale_example.unitypackage"
    out = tmp_path / "cube.blend"

    run = import_json(meshport, package, out)

    assert run.returncode == 0, run.stderr
    assert run.json()["imports"][0]["asset"]["platform"] == "unity"
    assert run.json()["meshes"]
    assert out.is_file()


def test_unity_package_with_several_models_lists_sources(meshport, sample_assets, tmp_path):
    package = tmp_path / "scales.unitypackage"
    shutil.copy(sample_assets / "unitypackage" / "fbxscaletest.unitypackage", package)
    out = tmp_path / "scales.blend"

    listing = import_json(meshport, package, out)

    assert listing.returncode == 1
    error = listing.json()["error"]
    assert "contains 12 models" in error["message"]
    assert len(error["choices"]) == 12
    assert all(choice["source"].startswith(f"{package}::") for choice in error["choices"])
    models = {choice["model"] for choice in error["choices"]}
    assert "Assets/fbxscaletest/fbxscaletest.fbx" in models
    assert not out.exists()

    chosen = meshport.run("import", error["choices"][0]["source"], "--out", str(out), "--json")

    assert chosen.returncode == 0, chosen.stderr
    assert out.is_file()


def test_unity_package_in_unity_folder_lists_unity_ids(meshport, sample_assets, tmp_path):
    folder = tmp_path / "packages"
    folder.mkdir()
    package = folder / "scales.unitypackage"
    shutil.copy(sample_assets / "unitypackage" / "fbxscaletest.unitypackage", package)
    env = {"MESHPORT_UNITY_DIR": str(folder)}

    listing = meshport.run(
        "import", str(package), "--out", str(tmp_path / "x.blend"), "--json", env=env
    )

    assert listing.returncode == 1
    sources = [choice["source"] for choice in listing.json()["error"]["choices"]]
    assert all(source.startswith("unity:scales.unitypackage::") for source in sources)

    chosen = meshport.run(
        "import", sources[-1], "--out", str(tmp_path / "x.blend"), "--json", env=env
    )

    assert chosen.returncode == 0, chosen.stderr


def test_unity_package_text_lists_one_source_a_line(meshport, sample_assets, tmp_path):
    package = sample_assets / "unitypackage" / "fbxscaletest.unitypackage"

    run = meshport.run("import", str(package), "--out", str(tmp_path / "x.blend"))

    assert run.returncode == 1
    listed = [line for line in run.stderr.splitlines() if line.startswith(f"  {package}::")]
    assert len(listed) == 12
    assert "Import one of the sources listed" in run.stderr


# Several sources


def test_failing_second_source_says_nothing_was_saved(meshport, sample_assets, tmp_path):
    box = sample_assets / "glb" / "Box.glb"
    garbage = tmp_path / "garbage.glb"
    garbage.write_bytes(b"this is not a GLB file")
    out = tmp_path / "multi.blend"

    run = meshport.run("import", str(box), str(garbage), "--out", str(out))

    assert run.returncode == 1
    error_line = run.stderr.splitlines()[-1]
    assert error_line.startswith(
        f"meshport: error: Nothing was saved to {out}, because source 2 of 2"
    )
    assert f"('{garbage}') failed" in error_line
    assert f"Imported before it but not saved: '{box}'" in error_line
    assert "Imported " not in run.stdout
    assert not out.exists()


def test_package_choice_after_another_source(meshport, sample_assets, tmp_path):
    box = sample_assets / "glb" / "Box.glb"
    package = sample_assets / "unitypackage" / "fbxscaletest.unitypackage"
    out = tmp_path / "multi.blend"

    run = meshport.run("import", str(box), str(package), "--out", str(out), "--json")

    assert run.returncode == 1
    error = run.json()["error"]
    assert error["message"].startswith(f"Nothing was saved to {out}, because source 2 of 2")
    assert "contains 12 models" in error["message"]
    assert len(error["choices"]) == 12
    assert not out.exists()


# --out


def test_out_in_missing_folder_exits_2(meshport, sample_assets, tmp_path):
    out = tmp_path / "missing" / "deeper" / "x.blend"

    run = meshport.run(
        "import", str(sample_assets / "glb" / "Box.glb"), "--out", str(out), "--json"
    )

    assert run.returncode == 2
    assert "does not exist" in run.json()["error"]["message"]
    assert not (tmp_path / "missing").exists()


def test_out_under_a_file_exits_2_before_importing(meshport, sample_assets, tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")

    run = meshport.run(
        "import", str(sample_assets / "glb" / "Box.glb"), "--out", str(blocker / "x.blend")
    )

    assert run.returncode == 2
    assert f"{blocker} is a file, not a folder" in run.stderr
    assert "importing" not in run.stderr
    assert blocker.read_text() == "a file, not a folder"


# The log


def test_importer_failure_names_the_log_file(meshport, tmp_path):
    model = tmp_path / "bad_index.gltf"
    model.write_text(json.dumps(gltf_with_index_out_of_range()))

    run = import_json(meshport, model, tmp_path / "bad.blend")

    assert run.returncode == 1
    (log_file,) = meshport.user_dir.rglob("meshport.log")
    message = run.json()["error"]["message"]
    assert f"The Meshport log {log_file} has the details." in message
    assert "Traceback" not in run.stderr


def gltf_with_index_out_of_range() -> dict:
    """A triangle whose third index names vertex 7 of 3. Blender 4.5's glTF importer
    fails on it with an IndexError."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    indices = struct.pack("<3H", 0, 1, 7) + b"\0\0"
    data = positions + indices
    uri = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    return {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "buffers": [{"byteLength": len(data), "uri": uri}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(positions)},
            {"buffer": 0, "byteOffset": len(positions), "byteLength": 6},
        ],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 3,
                "type": "VEC3",
                "min": [0, 0, 0],
                "max": [1, 1, 0],
            },
            {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"},
        ],
    }


def test_folder_import_reads_textures_anywhere_in_the_folder(meshport, sample_assets, tmp_path):
    folder = tmp_path / "kit"
    (folder / "obj").mkdir(parents=True)
    (folder / "tex").mkdir()
    shutil.copy(sample_assets / "gltf" / "Fox" / "Texture.png", folder / "tex" / "skin.png")
    (folder / "obj" / "tri.mtl").write_text("newmtl skin\nmap_Kd ../tex/skin.png\n")
    (folder / "obj" / "tri.obj").write_text(
        "mtllib tri.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nusemtl skin\nf 1 2 3\n"
    )

    run = import_json(meshport, folder, tmp_path / "kit.blend")

    assert run.returncode == 0, run.stderr
    (record,) = run.json()["imports"]
    assert record["images"]
    assert not any("outside" in warning for warning in record["warnings"])
