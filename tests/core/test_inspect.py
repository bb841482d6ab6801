"""Checks before import: glTF extensions and URIs, GLB structure, FBX headers, OBJ files."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from fakes.hostile import (
    GLB_BIN,
    GLB_JSON,
    fbx_bytes,
    glb_bytes,
    gltf_bytes,
    gltf_document,
)
from meshport.core.errors import UnsupportedFileError
from meshport.core.inspect import (
    DRACO_EXTENSION,
    fbx_texture_paths,
    inspect_fbx,
    inspect_gltf,
    inspect_model,
    inspect_obj,
    read_fbx_version,
    read_glb_document,
    rewrite_gltf_uris,
)

# Some of the extension names Blender's glTF importer supports. The Blender side queries
# the importer for its real list at run time.
IMPORTER_EXTENSIONS = frozenset(
    {
        DRACO_EXTENSION,
        "KHR_mesh_quantization",
        "KHR_materials_emissive_strength",
        "KHR_texture_transform",
    }
)

HOSTILE_URIS = [
    "../secret.bin",
    "..%2Fsecret.bin",
    "%2E%2E/secret.bin",
    "sub/../../secret.bin",
    "..\\secret.bin",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "C:/Windows/win.ini",
    "C:%5CWindows%5Cwin.ini",
    "c:secret.bin",
    "\\\\server\\share\\secret.bin",
    "file:///etc/passwd",
    "https://127.0.0.1/secret.bin",
]


def write_gltf(folder: Path, document: dict, name: str = "scene.gltf") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(gltf_bytes(document))
    return path


# ---------------------------------------------------------------- extensions


def test_meshopt_sample_names_the_missing_extension(sample_assets):
    with pytest.raises(UnsupportedFileError) as caught:
        inspect_gltf(sample_assets / "glb" / "BoxMeshopt.glb", IMPORTER_EXTENSIONS)

    assert "EXT_meshopt_compression" in caught.value.message
    assert "KHR_mesh_quantization" not in caught.value.message
    assert "BoxMeshopt.glb" in caught.value.message


def test_every_unsupported_extension_is_named(tmp_path):
    required = ["EXT_meshopt_compression", "KHR_texture_basisu", "KHR_mesh_quantization"]
    path = tmp_path / "model.glb"
    path.write_bytes(glb_bytes(gltf_document(required=required)))

    with pytest.raises(UnsupportedFileError) as caught:
        inspect_gltf(path, IMPORTER_EXTENSIONS)

    assert "EXT_meshopt_compression" in caught.value.message
    assert "KHR_texture_basisu" in caught.value.message
    assert "KHR_mesh_quantization" not in caught.value.message


def test_extension_check_is_skipped_without_supported_set(sample_assets):
    report = inspect_gltf(sample_assets / "glb" / "BoxMeshopt.glb", None)

    assert "EXT_meshopt_compression" in report.extensions_required


def test_draco_sample_reports_draco(sample_assets):
    report = inspect_gltf(sample_assets / "glb" / "Box_Draco.glb", IMPORTER_EXTENSIONS)

    assert report.needs_draco is True
    assert report.mesh_count == 1


def test_draco_sample_fails_when_library_is_missing(sample_assets):
    with pytest.raises(UnsupportedFileError, match="Draco library"):
        inspect_gltf(
            sample_assets / "glb" / "Box_Draco.glb", IMPORTER_EXTENSIONS, draco_available=False
        )


def test_plain_glb_needs_no_draco(sample_assets):
    report = inspect_gltf(
        sample_assets / "glb" / "Box.glb", IMPORTER_EXTENSIONS, draco_available=False
    )

    assert report.needs_draco is False
    assert report.file_format == "glb"


@pytest.mark.parametrize("count", [0, 1, 3])
def test_mesh_count_is_declared_meshes(tmp_path, count):
    path = write_gltf(tmp_path, gltf_document(meshes=count))

    assert inspect_gltf(path, set()).mesh_count == count


def test_real_samples_count_their_meshes(sample_assets):
    for name in ("Box.glb", "Fox.glb", "CesiumMan.glb"):
        assert inspect_gltf(sample_assets / "glb" / name, IMPORTER_EXTENSIONS).mesh_count == 1


def test_extensions_required_must_be_names(tmp_path):
    document = gltf_document()
    document["extensionsRequired"] = "KHR_draco_mesh_compression"
    path = write_gltf(tmp_path, document)

    with pytest.raises(UnsupportedFileError, match="extensionsRequired"):
        inspect_gltf(path, set())


def test_gltf_version_one_is_unsupported(tmp_path):
    path = write_gltf(tmp_path, gltf_document(version="1.0"))

    with pytest.raises(UnsupportedFileError, match="glTF 2.0 only"):
        inspect_gltf(path, set())


def test_gltf_without_asset_is_invalid(tmp_path):
    path = tmp_path / "scene.gltf"
    path.write_text(json.dumps({"meshes": []}))

    with pytest.raises(UnsupportedFileError, match="asset.version"):
        inspect_gltf(path, set())


def test_gltf_with_invalid_json_is_invalid(tmp_path):
    path = tmp_path / "scene.gltf"
    path.write_text("<html>error</html>")

    with pytest.raises(UnsupportedFileError, match="JSON is invalid"):
        inspect_gltf(path, set())


# ---------------------------------------------------------------- GLB structure


def test_real_glb_header_and_chunks_pass(sample_assets):
    document = read_glb_document(sample_assets / "glb" / "CesiumMan.glb")

    assert document["asset"]["version"].startswith("2.")


@pytest.mark.parametrize("delta", [-4, 4, 1000])
def test_glb_with_wrong_length_is_rejected(tmp_path, delta):
    correct = len(glb_bytes(gltf_document(), b"\x00" * 8))
    path = tmp_path / "bad.glb"
    path.write_bytes(glb_bytes(gltf_document(), b"\x00" * 8, declared_length=correct + delta))

    with pytest.raises(UnsupportedFileError, match=f"declares {correct + delta} bytes"):
        inspect_gltf(path, set())


def test_truncated_real_glb_is_rejected(tmp_path, sample_assets):
    path = tmp_path / "Box.glb"
    path.write_bytes((sample_assets / "glb" / "Box.glb").read_bytes()[:-100])

    with pytest.raises(UnsupportedFileError, match="download or export it again"):
        inspect_gltf(path, set())


def test_glb_starting_with_bin_chunk_is_rejected(tmp_path):
    path = tmp_path / "bad.glb"
    path.write_bytes(glb_bytes(gltf_document(), first_chunk_type=GLB_BIN))

    with pytest.raises(UnsupportedFileError, match="first chunk"):
        inspect_gltf(path, set())


def test_glb_with_second_json_chunk_is_rejected(tmp_path):
    path = tmp_path / "bad.glb"
    path.write_bytes(glb_bytes(gltf_document(), extra_chunks=[(GLB_JSON, b"{}  ")]))

    with pytest.raises(UnsupportedFileError, match="second JSON chunk"):
        inspect_gltf(path, set())


def test_glb_with_two_bin_chunks_is_rejected(tmp_path):
    path = tmp_path / "bad.glb"
    path.write_bytes(glb_bytes(gltf_document(), b"\x00" * 4, extra_chunks=[(GLB_BIN, b"\x00" * 4)]))

    with pytest.raises(UnsupportedFileError, match="BIN chunk"):
        inspect_gltf(path, set())


def test_glb_with_unknown_chunk_is_accepted(tmp_path):
    path = tmp_path / "extra.glb"
    path.write_bytes(glb_bytes(gltf_document(), b"\x00" * 4, extra_chunks=[(0x12345678, b"abcd")]))

    assert inspect_gltf(path, set()).mesh_count == 1


def test_glb_chunk_running_past_the_end_is_rejected(tmp_path):
    data = bytearray(glb_bytes(gltf_document()))
    data[12:16] = (len(data)).to_bytes(4, "little")  # JSON chunk length beyond the file
    path = tmp_path / "bad.glb"
    path.write_bytes(bytes(data))

    with pytest.raises(UnsupportedFileError, match="runs past the end"):
        inspect_gltf(path, set())


def test_glb_version_one_is_unsupported(tmp_path):
    path = tmp_path / "old.glb"
    path.write_bytes(glb_bytes(gltf_document(), version=1))

    with pytest.raises(UnsupportedFileError, match="glTF 2.0 only"):
        inspect_gltf(path, set())


def test_glb_shorter_than_header_is_rejected(tmp_path):
    path = tmp_path / "tiny.glb"
    path.write_bytes(b"glTF\x02\x00")

    with pytest.raises(UnsupportedFileError, match="GLB header"):
        inspect_gltf(path, set())


# ---------------------------------------------------------------- URIs


@pytest.mark.parametrize("uri", HOSTILE_URIS)
def test_buffer_uri_outside_folder_is_rejected(tmp_path, uri):
    (tmp_path / "secret.bin").write_bytes(b"secret")
    path = write_gltf(tmp_path / "model", gltf_document([uri]))

    with pytest.raises(UnsupportedFileError, match="points outside"):
        inspect_gltf(path, set())


@pytest.mark.parametrize("uri", HOSTILE_URIS)
def test_image_uri_outside_folder_is_rejected(tmp_path, uri):
    path = write_gltf(tmp_path / "model", gltf_document([], [uri]))

    with pytest.raises(UnsupportedFileError, match="points outside"):
        inspect_gltf(path, set())


def test_uri_through_symbolic_link_outside_is_rejected(tmp_path):
    (tmp_path / "secret.bin").write_bytes(b"secret")
    model = tmp_path / "model"
    model.mkdir()
    os.symlink(tmp_path / "secret.bin", model / "scene.bin")
    path = write_gltf(model, gltf_document(["scene.bin"]))

    with pytest.raises(UnsupportedFileError, match="points outside"):
        inspect_gltf(path, set())


def test_uri_climbing_within_root_is_accepted(tmp_path):
    (tmp_path / "textures").mkdir()
    (tmp_path / "textures" / "wood.png").write_bytes(b"png")
    path = write_gltf(tmp_path / "scenes", gltf_document([], ["../textures/wood.png"]))

    report = inspect_gltf(path, set(), root=tmp_path)

    assert report.resources == (tmp_path / "textures" / "wood.png",)


def test_same_uri_climbing_without_root_is_rejected(tmp_path):
    (tmp_path / "textures").mkdir()
    (tmp_path / "textures" / "wood.png").write_bytes(b"png")
    path = write_gltf(tmp_path / "scenes", gltf_document([], ["../textures/wood.png"]))

    with pytest.raises(UnsupportedFileError, match="points outside"):
        inspect_gltf(path, set())


def test_percent_encoded_uris_are_decoded(tmp_path):
    (tmp_path / "my scene.bin").write_bytes(b"\x00" * 4)
    (tmp_path / "Crème brûlée.png").write_bytes(b"png")
    path = write_gltf(
        tmp_path, gltf_document(["my%20scene.bin"], ["Cr%C3%A8me%20br%C3%BBl%C3%A9e.png"])
    )

    report = inspect_gltf(path, set())

    assert [resource.name for resource in report.resources] == ["my scene.bin", "Crème brûlée.png"]
    assert report.warnings == ()


def test_data_uris_are_allowed(tmp_path):
    path = write_gltf(
        tmp_path,
        gltf_document(
            ["data:application/octet-stream;base64,AAAAAA=="],
            ["data:image/png;base64,iVBORw0KGgo="],
        ),
    )

    report = inspect_gltf(path, set())

    assert report.resources == ()
    assert report.warnings == ()


def test_missing_buffer_is_named(tmp_path):
    path = write_gltf(tmp_path, gltf_document(["scene.bin", "extra%20data.bin"]))
    (tmp_path / "scene.bin").write_bytes(b"\x00" * 4)

    with pytest.raises(UnsupportedFileError) as caught:
        inspect_gltf(path, set())

    assert "'extra data.bin'" in caught.value.message
    assert "'scene.bin'" not in caught.value.message


def test_missing_image_is_a_warning(tmp_path):
    path = write_gltf(tmp_path, gltf_document([], ["textures/wood.png"]))

    report = inspect_gltf(path, set())

    assert len(report.warnings) == 1
    assert "textures/wood.png" in report.warnings[0]


def test_uri_that_is_not_text_is_rejected(tmp_path):
    document = gltf_document()
    document["buffers"] = [{"uri": 42, "byteLength": 4}]
    path = write_gltf(tmp_path, document)

    with pytest.raises(UnsupportedFileError, match="not a string"):
        inspect_gltf(path, set())


def test_real_separate_gltf_lists_its_files(sample_assets):
    report = inspect_gltf(sample_assets / "gltf" / "Fox" / "Fox.gltf", IMPORTER_EXTENSIONS)

    assert [path.name for path in report.resources] == ["Fox.bin", "Texture.png"]
    assert report.warnings == ()


def test_rewrite_gltf_uris_changes_only_resolved_uris(tmp_path):
    document = gltf_document(["a.bin", "data:application/octet-stream;base64,AA=="], ["b%20c.png"])
    path = write_gltf(tmp_path, document)

    changed = rewrite_gltf_uris(path, lambda uri: "renamed c.png" if uri == "b c.png" else None)

    rewritten = json.loads(path.read_text())
    assert changed == 1
    assert rewritten["images"][0]["uri"] == "renamed%20c.png"
    assert rewritten["buffers"][0]["uri"] == "a.bin"
    assert rewritten["buffers"][1]["uri"].startswith("data:")


def test_rewrite_gltf_uris_leaves_unchanged_file_alone(tmp_path):
    path = write_gltf(tmp_path, gltf_document(["a.bin"]))
    before = path.read_bytes()

    assert rewrite_gltf_uris(path, lambda uri: uri) == 0
    assert path.read_bytes() == before


# ---------------------------------------------------------------- FBX


def test_binary_fbx_7400_returns_version(sample_assets):
    assert read_fbx_version(sample_assets / "fbx" / "maya_cube_7400_binary.fbx") == 7400


def test_ascii_fbx_message_names_file_and_cause(sample_assets):
    with pytest.raises(UnsupportedFileError) as caught:
        read_fbx_version(sample_assets / "fbx" / "maya_cube_7400_ascii.fbx")

    message = caught.value.message
    assert "maya_cube_7400_ascii.fbx" in message
    assert "ASCII FBX" in message
    assert "binary FBX files only" in message
    assert "glTF" in message


def test_fbx_6100_message_names_file_and_version(sample_assets):
    with pytest.raises(UnsupportedFileError) as caught:
        read_fbx_version(sample_assets / "fbx" / "maya_cube_6100_binary.fbx")

    message = caught.value.message
    assert "maya_cube_6100_binary.fbx" in message
    assert "6100" in message
    assert "7100" in message
    assert "glTF" in message


def test_fbx_version_7000_is_rejected(tmp_path):
    path = tmp_path / "old.fbx"
    path.write_bytes(fbx_bytes([], version=7000))

    with pytest.raises(UnsupportedFileError, match="version 7000"):
        read_fbx_version(path)


def test_fbx_version_7100_is_accepted(tmp_path):
    path = tmp_path / "oldest.fbx"
    path.write_bytes(fbx_bytes([], version=7100))

    assert read_fbx_version(path) == 7100


@pytest.mark.parametrize(
    "content",
    [b"<!DOCTYPE html><html></html>", b"Kaydara FBX Binary", b"", b"PK\x03\x04rest"],
)
def test_non_fbx_content_is_rejected(tmp_path, content):
    path = tmp_path / "model.fbx"
    path.write_bytes(content)

    with pytest.raises(UnsupportedFileError, match="not an FBX file"):
        read_fbx_version(path)


@pytest.mark.parametrize("version", [6100, 7400, 7500])
def test_fbx_texture_paths_are_found(tmp_path, version):
    path = tmp_path / "crate.fbx"
    path.write_bytes(
        fbx_bytes(["C:\\art\\wood.png", "Texture::wood", "maps/crate.TGA"], version=version)
    )

    assert fbx_texture_paths(path) == ["C:\\art\\wood.png", "maps/crate.TGA"]


def test_real_fbx_files_scan_without_damage(sample_assets, caplog):
    for path in sorted((sample_assets / "fbx").glob("*binary.fbx")):
        fbx_texture_paths(path)

    assert "damaged record" not in caplog.text


def test_damaged_fbx_scan_keeps_what_it_found(tmp_path, caplog):
    data = fbx_bytes(["first.png", "second.png"])
    path = tmp_path / "cut.fbx"
    path.write_bytes(data[: data.index(b"second.png") - 20])

    with caplog.at_level(logging.INFO, logger="meshport.core.inspect"):
        found = fbx_texture_paths(path)

    assert found == ["first.png"]
    assert "damaged record" in caplog.text


def test_fbx_missing_texture_is_a_warning(tmp_path):
    path = tmp_path / "crate.fbx"
    path.write_bytes(fbx_bytes(["C:\\Users\\artist\\Temp\\wood.jpg.jpg"]))

    report = inspect_fbx(path)

    assert report.fbx_version == 7400
    assert len(report.warnings) == 1
    assert "wood.jpg.jpg" in report.warnings[0]


def test_fbx_texture_found_by_name_below_the_file(tmp_path):
    path = tmp_path / "crate.fbx"
    path.write_bytes(fbx_bytes(["C:\\Users\\artist\\Temp\\wood.png", "maps/metal.png"]))
    (tmp_path / "textures").mkdir()
    (tmp_path / "textures" / "Wood.png").write_bytes(b"png")
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "metal.png").write_bytes(b"png")

    assert inspect_fbx(path).warnings == ()


def test_inspect_model_dispatches_by_suffix(sample_assets):
    assert inspect_model(sample_assets / "fbx" / "maya_cube_7400_binary.fbx").fbx_version == 7400
    assert inspect_model(sample_assets / "glb" / "Box.glb").mesh_count == 1
    assert inspect_model(sample_assets / "obj" / "blender_279_ball_0_obj.obj").file_format == "obj"


def test_inspect_model_rejects_other_suffixes(tmp_path):
    path = tmp_path / "model.blend"
    path.write_bytes(b"BLENDER")

    with pytest.raises(UnsupportedFileError, match="'.blend'"):
        inspect_model(path)


# ---------------------------------------------------------------- OBJ


def test_real_obj_finds_its_material_library(sample_assets):
    report = inspect_obj(sample_assets / "obj" / "blender_279_ball_0_obj.obj")

    assert [path.name for path in report.resources] == ["blender_279_ball_0_obj.mtl"]
    assert report.warnings == ()


def test_obj_without_its_library_warns(tmp_path, sample_assets):
    shutil.copy(sample_assets / "obj" / "blender_279_ball_0_obj.obj", tmp_path)

    report = inspect_obj(tmp_path / "blender_279_ball_0_obj.obj")

    assert len(report.warnings) == 1
    assert "blender_279_ball_0_obj.mtl" in report.warnings[0]


def test_obj_with_several_libraries_on_one_line(tmp_path):
    (tmp_path / "a.mtl").write_text("newmtl A\n")
    (tmp_path / "model.obj").write_text("mtllib a.mtl b.mtl\nv 0 0 0\n")

    report = inspect_obj(tmp_path / "model.obj")

    assert [path.name for path in report.resources] == ["a.mtl"]
    assert len(report.warnings) == 1
    assert "'b.mtl'" in report.warnings[0]


def test_obj_library_name_with_spaces(tmp_path):
    (tmp_path / "my materials.mtl").write_text("newmtl A\n")
    (tmp_path / "model.obj").write_text("mtllib my materials.mtl\n")

    report = inspect_obj(tmp_path / "model.obj")

    assert [path.name for path in report.resources] == ["my materials.mtl"]
    assert report.warnings == ()


def test_mtl_textures_with_options_are_checked(tmp_path):
    (tmp_path / "tex").mkdir()
    (tmp_path / "tex" / "wood.png").write_bytes(b"png")
    (tmp_path / "a.mtl").write_text(
        "newmtl A\nmap_Kd -s 1 1 1 -o 0 0 0 tex/wood.png\nbump -bm 0.5 tex/bump.png\n"
    )
    (tmp_path / "model.obj").write_text("mtllib a.mtl\n")

    report = inspect_obj(tmp_path / "model.obj")

    assert [path.name for path in report.resources] == ["a.mtl", "wood.png"]
    assert len(report.warnings) == 1
    assert "tex/bump.png" in report.warnings[0]


def test_fbx_embedded_texture_is_not_a_warning(tmp_path):
    path = tmp_path / "crate.fbx"
    path.write_bytes(
        fbx_bytes(["C:\\art\\Wood.png", "C:\\art\\metal.png"], embedded={"wood.png": b"png"})
    )

    report = inspect_fbx(path)

    assert fbx_texture_paths(path) == ["C:\\art\\Wood.png", "C:\\art\\metal.png", "wood.png"]
    assert len(report.warnings) == 1
    assert "metal.png" in report.warnings[0]


@pytest.mark.parametrize("kept", [0.25, 0.5, 0.75, 0.9])
def test_truncated_fbx_is_damaged(sample_assets, tmp_path, kept):
    data = (sample_assets / "fbx" / "maya_cube_7400_binary.fbx").read_bytes()
    truncated = tmp_path / "cube.fbx"
    truncated.write_bytes(data[: int(len(data) * kept)])

    with pytest.raises(UnsupportedFileError, match="cube.fbx is damaged.*truncated"):
        inspect_fbx(truncated)


@pytest.mark.parametrize(
    "name", ["maya_cube_7400_binary.fbx", "blender_279_default_7400_binary.fbx"]
)
def test_complete_fbx_passes_record_check(sample_assets, name):
    assert inspect_fbx(sample_assets / "fbx" / name).fbx_version == 7400


def test_gltf_overlong_image_name_is_missing(tmp_path):
    long_name = "t" * 300 + ".png"
    path = tmp_path / "model.gltf"
    path.write_text(json.dumps({"asset": {"version": "2.0"}, "images": [{"uri": long_name}]}))

    report = inspect_model(path)

    (warning,) = report.warnings
    assert "is missing" in warning
    assert len(warning) < 300


def test_gltf_json_nested_too_deeply_is_damaged(tmp_path):
    path = tmp_path / "deep.gltf"
    path.write_text("[" * 200_000 + "]" * 200_000)

    with pytest.raises(UnsupportedFileError, match="nested too deeply"):
        inspect_model(path)


def test_obj_overlong_texture_name_is_missing(tmp_path):
    (tmp_path / "tri.mtl").write_text("newmtl skin\nmap_Kd " + "t" * 300 + ".png\n")
    path = tmp_path / "tri.obj"
    path.write_text("mtllib tri.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")

    (warning,) = inspect_model(path).warnings

    assert "is missing" in warning
    assert len(warning) < 300


def test_obj_outside_material_library_warns(tmp_path):
    outside = tmp_path / "elsewhere" / "evil.mtl"
    outside.parent.mkdir()
    outside.write_text("newmtl skin\nKd 1 0 0\n")
    model = tmp_path / "model" / "tri.obj"
    model.parent.mkdir()
    model.write_text(f"mtllib {outside}\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")

    report = inspect_model(model)

    (warning,) = report.warnings
    assert "evil.mtl' is outside the model's folder" in warning
    assert outside not in report.resources
