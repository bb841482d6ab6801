"""Recognising files by their first bytes: check_magic and detect_kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.hostile import TarMember, ZipMember, tar_bytes, zip_bytes
from meshport.core.errors import DownloadError
from meshport.core.formats import MAGIC, MODEL_SUFFIXES, check_magic, detect_kind

HTML_PAGE = b"<!DOCTYPE html>\n<html><body>Please sign in</body></html>\n"


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("relative", "kind"),
    [
        ("glb/Box.glb", "glb"),
        ("glb/Fox.glb", "glb"),
        ("fbx/maya_cube_7400_binary.fbx", "fbx"),
        ("gltf/Fox/Texture.png", "png"),
        ("gltf/Fox/Fox.gltf", "gltf"),
        ("unitypackage/fbxscaletest.unitypackage", "gzip"),
        ("obj/blender_279_ball_0_obj.obj", "obj"),
    ],
)
def test_check_magic_accepts_real_files(sample_assets, relative, kind):
    check_magic(sample_assets / relative, kind, label="sample")


@pytest.mark.parametrize("kind", sorted(MAGIC))
def test_check_magic_rejects_html_page(tmp_path, kind):
    path = write(tmp_path, "model.bin", HTML_PAGE)

    with pytest.raises(DownloadError, match="starts with the text .<!DOCTYPE html>"):
        check_magic(path, kind, label="model")


def test_check_magic_rejects_ascii_fbx_as_binary_fbx(sample_assets):
    with pytest.raises(DownloadError, match="not a FBX file"):
        check_magic(sample_assets / "fbx" / "maya_cube_7400_ascii.fbx", "fbx", label="model")


def test_check_magic_rejects_gltf_that_is_not_json(tmp_path):
    path = write(tmp_path, "scene.gltf", HTML_PAGE)

    with pytest.raises(DownloadError, match="not valid JSON"):
        check_magic(path, "gltf", label="scene")


def test_check_magic_rejects_gltf_json_array(tmp_path):
    path = write(tmp_path, "scene.gltf", b"[1, 2]")

    with pytest.raises(DownloadError, match="not a JSON object"):
        check_magic(path, "gltf", label="scene")


def test_check_magic_skips_unknown_kinds(tmp_path):
    path = write(tmp_path, "model.obj", HTML_PAGE)

    check_magic(path, "any", label="model")


@pytest.mark.parametrize(
    ("relative", "kind"),
    [
        ("glb/Box.glb", "glb"),
        ("fbx/maya_cube_7400_binary.fbx", "fbx"),
        ("gltf/Fox/Texture.png", "png"),
        ("unitypackage/negative_scale_example.unitypackage", "gzip"),
    ],
)
def test_detect_kind_of_real_files(sample_assets, relative, kind):
    assert detect_kind(sample_assets / relative) == kind


def test_detect_kind_of_zip(tmp_path):
    path = write(tmp_path, "a.bin", zip_bytes([ZipMember("a.txt", b"a")]))

    assert detect_kind(path) == "zip"


def test_detect_kind_of_plain_tar(tmp_path):
    path = write(tmp_path, "a.bin", tar_bytes([TarMember("a.txt", b"a")]))

    assert detect_kind(path) == "tar"


def test_detect_kind_tar_named_like_zip(tmp_path):
    path = write(tmp_path, "a.bin", tar_bytes([TarMember("PK\x03\x04.txt", b"a")]))

    assert detect_kind(path) == "tar"


@pytest.mark.parametrize("content", [HTML_PAGE, b"", b"v 0 0 0\n"])
def test_detect_kind_of_unknown_content(tmp_path, content):
    path = write(tmp_path, "a.bin", content)

    assert detect_kind(path) is None


def test_model_suffixes_cover_the_imported_formats():
    assert sorted(MODEL_SUFFIXES.values()) == ["fbx", "glb", "gltf", "obj"]
