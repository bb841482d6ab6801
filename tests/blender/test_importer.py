"""Import the real sample files with Blender's own importers and check the scene."""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import bpy
import pytest
from meshport.blender import importer, service
from meshport.blender.importer import ImportOptions
from meshport.blender.provenance import CREDITS_TEXT_NAME
from meshport.core.errors import ImportFailedError, UnsupportedFileError
from meshport.core.models import Asset
from support import REPO_ROOT, require

# relative path: (meshes, armatures, actions, images) the import must create
SAMPLES = {
    "glb/Box.glb": (1, 0, 0, 0),
    "glb/Fox.glb": (1, 1, 3, 1),
    "glb/CesiumMan.glb": (1, 1, 1, 1),
    "gltf/Fox/Fox.gltf": (1, 1, 3, 1),
    "fbx/maya_cube_7400_binary.fbx": (1, 0, 0, 0),
    "fbx/blender_279_default_7400_binary.fbx": (1, 0, 0, 0),
    "obj/blender_279_ball_0_obj.obj": (1, 0, 0, 0),
}
# relative path: words the message must contain besides the file name
UNSUPPORTED = {
    "fbx/maya_cube_7400_ascii.fbx": "ASCII FBX",
    "fbx/maya_cube_6100_binary.fbx": "version 6100",
    "glb/BoxMeshopt.glb": "EXT_meshopt_compression",
}
DATA_KINDS = ("objects", "meshes", "materials", "images", "actions", "armatures", "collections")
SKETCHFAB_FOX = Asset(
    platform="sketchfab",
    asset_id="0123456789abcdef0123456789abcdef",
    name="Fox",
    author="PixelMannen",
    license="CC Attribution",
    url="https://sketchfab.com/3d-models/fox-0123456789abcdef0123456789abcdef",
)


def data_counts() -> dict[str, int]:
    return {kind: len(getattr(bpy.data, kind)) for kind in DATA_KINDS}


def writable_copy(source: Path, target_folder: Path) -> Path:
    """Copy a sample (a folder for a separate-file glTF) so a test may change it."""
    if source.parent.name == "Fox":
        shutil.copytree(source.parent, target_folder, dirs_exist_ok=True)
        for path in target_folder.iterdir():
            path.chmod(0o644)
        return target_folder / source.name
    target_folder.mkdir(parents=True, exist_ok=True)
    target = target_folder / source.name
    target.write_bytes(source.read_bytes())
    return target


def box_gltf_parts(sample_assets: Path) -> tuple[dict, bytes]:
    """Return the JSON document and binary chunk of Box.glb."""
    glb = (sample_assets / "glb" / "Box.glb").read_bytes()
    json_length = struct.unpack_from("<I", glb, 12)[0]
    document = json.loads(glb[20 : 20 + json_length])
    binary_length = struct.unpack_from("<I", glb, 20 + json_length)[0]
    start = 28 + json_length
    return document, glb[start : start + binary_length]


def write_gltf(document: dict, binary: bytes, path: Path) -> Path:
    """Write a .gltf with its buffer embedded as a data URI."""
    encoded = base64.b64encode(binary).decode()
    document["buffers"] = [
        {"byteLength": len(binary), "uri": f"data:application/octet-stream;base64,{encoded}"}
    ]
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize("relative", sorted(SAMPLES))
def test_import_creates_expected_data(empty_scene, sample_assets, relative):
    meshes, armatures, actions, images = SAMPLES[relative]

    result = importer.import_model(sample_assets / relative)

    assert len(result.meshes) == meshes
    assert len(result.armatures) == armatures
    assert len(result.actions) == actions
    assert len(result.images) == images
    assert set(result.objects) == {obj.name for obj in bpy.data.objects}


@pytest.mark.parametrize("relative", ["glb/Fox.glb", "glb/CesiumMan.glb", "gltf/Fox/Fox.gltf"])
def test_import_packs_every_image(empty_scene, sample_assets, relative):
    result = importer.import_model(sample_assets / relative)

    for name in result.images:
        image = bpy.data.images[name]
        assert image.packed_file is not None, f"{name} is not packed"
        assert image.filepath_raw.startswith("//textures/"), image.filepath_raw
        assert str(sample_assets) not in image.packed_files[0].filepath
        assert tuple(image.size) != (0, 0), f"{name} has no pixels"


def test_import_of_skinned_fox_parents_mesh_to_armature(empty_scene, sample_assets):
    result = importer.import_model(sample_assets / "glb" / "Fox.glb")

    (armature_name,) = result.armatures
    armature_objects = [obj for obj in bpy.data.objects if obj.type == "ARMATURE"]
    mesh_objects = [obj for obj in bpy.data.objects if obj.type == "MESH"]
    assert [obj.data.name for obj in armature_objects] == [armature_name]
    assert mesh_objects[0].parent == armature_objects[0]
    assert {"Run", "Survey", "Walk"} <= {name.split("_")[0] for name in result.actions}


def test_missing_texture_is_reported_once(empty_scene, sample_assets, tmp_path):
    model = writable_copy(sample_assets / "gltf" / "Fox" / "Fox.gltf", tmp_path / "fox")
    (model.parent / "Texture.png").unlink()

    result = importer.import_model(model)

    mentions = [warning for warning in result.warnings if "Texture" in warning]
    assert len(mentions) == 1
    assert "'Texture.png' is missing" in mentions[0]
    assert len(result.meshes) == 1


def write_textured_obj(folder: Path, texture_reference: str) -> Path:
    """Write a one-triangle OBJ whose material's diffuse map is ``texture_reference``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tri.mtl").write_text(f"newmtl skin\nmap_Kd {texture_reference}\n")
    model = folder / "tri.obj"
    model.write_text(
        "mtllib tri.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\n"
        "usemtl skin\nf 1/1 2/2 3/3\n"
    )
    return model


@pytest.mark.parametrize("form", ["absolute", "relative"])
def test_texture_outside_model_folder_is_not_packed(empty_scene, sample_assets, tmp_path, form):
    outside = tmp_path / "private" / "secret.png"
    outside.parent.mkdir()
    outside.write_bytes((sample_assets / "gltf" / "Fox" / "Texture.png").read_bytes())
    reference = str(outside) if form == "absolute" else "../../private/secret.png"
    model = write_textured_obj(tmp_path / "models" / "tri", reference)

    result = importer.import_model(model)

    assert len(result.meshes) == 1
    (image,) = [bpy.data.images[name] for name in result.images]
    assert image.packed_file is None
    assert str(tmp_path / "private") not in image.filepath_raw
    assert any("'secret.png' is outside the model's folder" in text for text in result.warnings)


def test_texture_outside_folder_used_twice_is_reported_once(empty_scene, tmp_path):
    folder = tmp_path / "models" / "pair"
    folder.mkdir(parents=True)
    (folder / "pair.mtl").write_text(
        "newmtl a\nmap_Kd ../../../../../etc/hostname\n"
        "newmtl b\nmap_Kd ../../../../../etc/hostname\n"
    )
    (folder / "pair.obj").write_text(
        "mtllib pair.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\n"
        "usemtl a\nf 1 2 3\nusemtl b\nf 2 4 3\n"
    )

    result = importer.import_model(folder / "pair.obj")

    assert len([text for text in result.warnings if "hostname" in text]) == 1


def test_non_image_texture_is_not_packed(empty_scene, tmp_path):
    folder = tmp_path / "tri"
    model = write_textured_obj(folder, "notes.txt")
    (folder / "notes.txt").write_text("not pixels\n")

    result = importer.import_model(model)

    (image,) = [bpy.data.images[name] for name in result.images]
    assert image.packed_file is None
    assert any("'notes.txt' is not an image Blender can read" in text for text in result.warnings)


def test_import_moves_objects_into_asset_collection(empty_scene, sample_assets):
    result = importer.import_model(sample_assets / "glb" / "CesiumMan.glb", asset=SKETCHFAB_FOX)

    collection = bpy.data.collections[result.collection_name]
    assert result.collection_name == "Fox"
    assert collection.name in bpy.context.scene.collection.children
    assert {obj.name for obj in collection.objects} == set(result.objects)
    for obj in collection.objects:
        assert [c.name for c in obj.users_collection] == ["Fox"]
    assert list(bpy.data.collections) == [collection]


def test_import_places_roots_at_cursor(empty_scene, sample_assets):
    bpy.context.scene.cursor.location = (1.0, 2.0, 3.0)

    result = importer.import_model(sample_assets / "glb" / "Box.glb")

    objects = [bpy.data.objects[name] for name in result.objects]
    roots = [obj for obj in objects if obj.parent is None]
    children = [obj for obj in objects if obj.parent is not None]
    assert [tuple(obj.location) for obj in roots] == [(1.0, 2.0, 3.0)]
    assert [tuple(obj.location) for obj in children] == [(0.0, 0.0, 0.0)]


def test_import_can_leave_objects_at_origin(empty_scene, sample_assets):
    bpy.context.scene.cursor.location = (1.0, 2.0, 3.0)

    result = importer.import_model(
        sample_assets / "fbx" / "maya_cube_7400_binary.fbx", ImportOptions(place_at_cursor=False)
    )

    (name,) = result.objects
    assert tuple(bpy.data.objects[name].location) == (0.0, 0.0, 0.0)


def test_import_tags_objects_with_provenance(empty_scene, sample_assets):
    asset = Asset(
        platform="github",
        asset_id="98765432109876543",
        name="Cube",
        author="ufbx",
        license="MIT",
        url="https://github.com/ufbx/ufbx",
    )

    result = importer.import_model(
        sample_assets / "fbx" / "blender_279_default_7400_binary.fbx", asset=asset
    )

    expected = {
        "meshport_platform": "github",
        "meshport_asset_id": "98765432109876543",
        "meshport_name": "Cube",
        "meshport_author": "ufbx",
        "meshport_license": "MIT",
        "meshport_url": "https://github.com/ufbx/ufbx",
    }
    for name in result.objects:
        obj = bpy.data.objects[name]
        assert {key: obj.get(key) for key in expected} == expected, name


def test_import_writes_credits_line(empty_scene, sample_assets):
    result = importer.import_model(sample_assets / "gltf" / "Fox" / "Fox.gltf", asset=SKETCHFAB_FOX)

    expected = (
        '"Fox" by PixelMannen (Sketchfab, https://sketchfab.com/3d-models/'
        "fox-0123456789abcdef0123456789abcdef), licence: CC Attribution"
    )
    assert result.credits_line == expected
    assert bpy.data.texts[CREDITS_TEXT_NAME].as_string() == expected + "\n"


def test_credits_keep_one_line_per_asset(empty_scene, sample_assets):
    importer.import_model(sample_assets / "glb" / "Box.glb")
    importer.import_model(sample_assets / "glb" / "Fox.glb", asset=SKETCHFAB_FOX)
    importer.import_model(sample_assets / "glb" / "Fox.glb", asset=SKETCHFAB_FOX)

    lines = bpy.data.texts[CREDITS_TEXT_NAME].as_string().splitlines()

    assert len(lines) == 2
    assert lines[0].startswith('"Box" by unknown author (Local library, file://')
    assert lines[0].endswith("licence: unknown")


@pytest.mark.parametrize("relative", sorted(UNSUPPORTED))
def test_unsupported_file_names_file_and_reason(empty_scene, sample_assets, relative):
    before = data_counts()
    path = sample_assets / relative

    with pytest.raises(UnsupportedFileError) as caught:
        importer.import_model(path)

    assert path.name in caught.value.message
    assert UNSUPPORTED[relative] in caught.value.message
    assert data_counts() == before
    assert path.is_file()


def test_importer_failure_midway_removes_partial_data(empty_scene, sample_assets, tmp_path):
    document, binary = box_gltf_parts(sample_assets)
    # A second mesh whose POSITION accessor runs far past the buffer: the importer
    # creates the first mesh and its objects, then raises on the second.
    document["accessors"].append(dict(document["accessors"][2], count=100_000))
    document["meshes"].append(
        {"name": "Broken", "primitives": [{"attributes": {"POSITION": 3}, "indices": 0}]}
    )
    document["nodes"].append({"mesh": 1, "name": "BrokenNode"})
    document["nodes"][0]["children"] = [1, 2]
    path = write_gltf(document, binary, tmp_path / "Broken.gltf")
    before = data_counts()

    with pytest.raises(ImportFailedError) as caught:
        importer.import_model(path)

    assert "Broken.gltf" in caught.value.message
    assert "buffer is smaller than requested size" in caught.value.message
    assert data_counts() == before
    assert path.is_file()


def test_import_without_scene_meshes_says_none_arrived(empty_scene, sample_assets, tmp_path):
    document, binary = box_gltf_parts(sample_assets)
    document["nodes"] = [{"name": "Empty"}]
    document["scenes"] = [{"nodes": [0]}]
    path = write_gltf(document, binary, tmp_path / "NoMeshNode.gltf")
    before = data_counts()

    with pytest.raises(ImportFailedError) as caught:
        importer.import_model(path)

    assert "declares 1 mesh" in caught.value.message
    assert "NoMeshNode.gltf" in caught.value.message
    assert data_counts() == before


def test_import_of_empty_scene_says_no_objects(empty_scene, sample_assets, tmp_path):
    document, binary = box_gltf_parts(sample_assets)
    document["scenes"] = [{"nodes": []}]
    del document["meshes"]
    for primitive_owner in ("nodes",):
        document[primitive_owner] = []
    path = write_gltf(document, binary, tmp_path / "Nothing.gltf")

    with pytest.raises(ImportFailedError) as caught:
        importer.import_model(path)

    assert "created no objects" in caught.value.message


def test_importer_error_text_becomes_reason():
    text = (
        "Error: Python: Traceback (most recent call last):\n"
        '  File "gltf.py", line 1, in create\n'
        "ValueError: buffer is smaller than requested size\n"
        "\n"
        "Location: /blender/scripts/modules/bpy/ops.py:109\n"
    )
    error = importer._importer_error(Path("/downloads/x/scene.gltf"), "gltf", RuntimeError(text))

    assert isinstance(error, ImportFailedError)
    assert error.message.startswith(
        "scene.gltf: Blender's glTF importer failed: ValueError: buffer is smaller"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Error: ASCII FBX files are not supported '/downloads/cube.fbx'\n",
        "Error: Version 6100 unsupported, must be 7100 or later\n",
        "Error: Extension EXT_meshopt_compression is not available on this addon version\n",
    ],
)
def test_importer_rejection_becomes_unsupported_file(text):
    error = importer._importer_error(Path("/downloads/cube.fbx"), "fbx", RuntimeError(text))

    assert isinstance(error, UnsupportedFileError)
    assert text.removeprefix("Error: ").strip() in error.message


def test_import_leaves_edit_mode_first(empty_scene, sample_assets):
    bpy.ops.mesh.primitive_cube_add()
    bpy.ops.object.mode_set(mode="EDIT")

    result = importer.import_model(sample_assets / "glb" / "Box.glb")

    assert bpy.context.mode == "OBJECT"
    assert len(result.meshes) == 1


def test_copy_mode_writes_textures_next_to_blend(empty_scene, sample_assets, tmp_path):
    blend = tmp_path / "project" / "scene.blend"
    blend.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))

    result = importer.import_model(
        sample_assets / "gltf" / "Fox" / "Fox.gltf", ImportOptions(pack_images=False)
    )

    (name,) = result.images
    image = bpy.data.images[name]
    assert image.packed_file is None
    assert image.filepath_raw == "//textures/Fox/Texture.png"
    copied = blend.parent / "textures" / "Fox" / "Texture.png"
    assert copied.read_bytes() == (sample_assets / "gltf" / "Fox" / "Texture.png").read_bytes()
    assert tuple(image.size) == (1024, 1024)


def test_copy_mode_writes_embedded_images_too(empty_scene, sample_assets, tmp_path):
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))

    result = importer.import_model(
        sample_assets / "glb" / "Fox.glb", ImportOptions(pack_images=False)
    )

    (name,) = result.images
    image = bpy.data.images[name]
    assert image.packed_file is None
    assert (tmp_path / bpy.path.abspath(image.filepath_raw)).is_file()


def test_copy_mode_packs_when_blend_is_unsaved(empty_scene, sample_assets):
    result = importer.import_model(
        sample_assets / "glb" / "Fox.glb", ImportOptions(pack_images=False)
    )

    (name,) = result.images
    assert bpy.data.images[name].packed_file is not None
    assert any("not saved yet" in warning for warning in result.warnings)


def test_saved_blend_holds_no_download_path(empty_scene, sample_assets, tmp_path):
    downloads = writable_copy(
        sample_assets / "gltf" / "Fox" / "Fox.gltf", tmp_path / "cache-folder"
    )
    importer.import_model(downloads, asset=SKETCHFAB_FOX)
    blend = tmp_path / "saved.blend"

    bpy.ops.wm.save_as_mainfile(filepath=str(blend))

    assert blend.is_file()
    assert b"cache-folder" not in blend.read_bytes()


def test_import_result_converts_to_json(empty_scene, sample_assets):
    result = importer.import_model(sample_assets / "glb" / "Fox.glb", asset=SKETCHFAB_FOX)

    document = json.loads(json.dumps(result.to_dict()))

    assert document["collection_name"] == "Fox"
    assert document["armatures"] == list(result.armatures)
    assert document["asset"]["platform"] == "sketchfab"
    assert document["credits_line"] == result.credits_line


def test_import_file_finds_model_deep_in_zip(empty_scene, sample_assets, tmp_path, user_resources):
    archive = tmp_path / "fox-download.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in (sample_assets / "gltf" / "Fox").iterdir():
            bundle.write(path, f"outer/inner/{path.name}")

    result = service.import_file(archive)

    assert len(result.armatures) == 1
    assert result.asset.name == "fox-download"
    assert list((service.user_data_dir() / "imports").iterdir()) == []


def test_import_file_removes_stale_extraction_folders(
    empty_scene, sample_assets, tmp_path, user_resources
):
    imports = service.user_data_dir() / "imports"
    stale, recent = imports / "old-run" / "content", imports / "running" / "content"
    for folder in (stale, recent):
        folder.mkdir(parents=True)
        (folder / "part.bin").write_bytes(b"left behind")
    two_hours_ago = time.time() - 7200
    os.utime(stale.parent, (two_hours_ago, two_hours_ago))
    archive = tmp_path / "box.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(sample_assets / "glb" / "Box.glb", "Box.glb")

    service.import_file(archive)

    assert sorted(path.name for path in imports.iterdir()) == ["running"]


def test_local_asset_keeps_the_path_as_given(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "box.glb").write_bytes(b"glTF")
    (tmp_path / "link").symlink_to(tmp_path / "real")

    asset = importer.local_asset(tmp_path / "link" / "box.glb")

    assert asset.asset_id == str(tmp_path / "link" / "box.glb")
    assert asset.url == (tmp_path / "link" / "box.glb").as_uri()


def test_pipe_import_is_not_a_file(empty_scene, tmp_path):
    pipe = tmp_path / "model.glb"
    os.mkfifo(pipe)

    with pytest.raises(UnsupportedFileError, match="not a regular file"):
        importer.import_model(pipe)


def test_import_file_rejects_unknown_suffix(empty_scene, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a model")

    with pytest.raises(UnsupportedFileError) as caught:
        service.import_file(path)

    assert "notes.txt" in caught.value.message


def blender_42_python() -> Path:
    configured = os.environ.get("MESHPORT_BLENDER_42_PYTHON", "")
    return Path(configured) if configured else REPO_ROOT / ".venv-4.2" / "bin" / "python"


def test_importer_options_exist_in_blender_4_2():
    python = blender_42_python()
    require(python.is_file(), f"no Python with bpy 4.2 at {python} (MESHPORT_BLENDER_42_PYTHON)")
    script = (
        "import bpy, json\n"
        "ops = {'import_scene.gltf': bpy.ops.import_scene.gltf, "
        "'import_scene.fbx': bpy.ops.import_scene.fbx, 'wm.obj_import': bpy.ops.wm.obj_import}\n"
        "print('VERSION', bpy.app.version_string)\n"
        "print('PROPS', json.dumps({k: list(o.get_rna_type().properties.keys()) "
        "for k, o in ops.items()}))\n"
    )
    output = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    version = next(line for line in output.splitlines() if line.startswith("VERSION"))
    properties = json.loads(
        next(line for line in output.splitlines() if line.startswith("PROPS"))[6:]
    )

    assert version.split()[1].startswith("4.2")
    for (module, name), options in importer.IMPORTERS.values():
        missing = set(options) - set(properties[f"{module}.{name}"])
        assert not missing, f"{module}.{name} in Blender 4.2 lacks {sorted(missing)}"
    assert sys.version_info >= (3, 11)
