"""Unity packages: listing models, extracting one with its textures, hostile packages,
and Unity's download folders."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from fakes.hostile import (
    TAR_HARD_LINK,
    TAR_SYMLINK,
    TarMember,
    fbx_bytes,
    gltf_bytes,
    gltf_document,
    unity_package,
)
from meshport.core.errors import (
    ConfigurationError,
    NotFoundError,
    UnsafeArchiveError,
    UnsupportedFileError,
)
from meshport.core.inspect import inspect_fbx, inspect_gltf
from meshport.core.unitypackage import (
    ASSET_STORE_FOLDER,
    extract_model,
    find_unity_packages,
    list_models,
    read_package,
    read_preview,
    unity_download_folders,
)

NEGATIVE_SCALE = "negative_scale_example.unitypackage"
SCALE_TEST = "fbxscaletest.unitypackage"
ROTATE_CUBE = "Assets/negative_scale_example/rotatecube.fbx"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def guid(number: int) -> str:
    return f"{number:032x}"


def write_package(folder: Path, assets: list[dict], extra: list[TarMember] | None = None) -> Path:
    path = folder / "pack.unitypackage"
    path.write_bytes(unity_package(assets, extra=extra))
    return path


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def packages(sample_assets) -> Path:
    return sample_assets / "unitypackage"


# ---------------------------------------------------------------- real packages


def test_negative_scale_package_lists_one_fbx(packages):
    models = list_models(packages / NEGATIVE_SCALE)

    assert [model.pathname for model in models] == [ROTATE_CUBE]
    assert models[0].guid == "b032cc76c8fb6be419336bd9ba71f504"
    assert models[0].has_preview is True


def test_scale_test_package_lists_twelve_fbx(packages):
    listing = read_package(packages / SCALE_TEST)

    assert len(listing.models()) == 12
    assert all(model.suffix == ".fbx" for model in listing.models())
    assert "Assets/fbxscaletest/fbxscaletest_noconv_.777.fbx" in [
        m.pathname for m in listing.models()
    ]


def test_folder_entries_are_not_assets(packages):
    listing = read_package(packages / SCALE_TEST)

    pathnames = [asset.pathname for asset in listing.assets]
    assert len(pathnames) == 42
    assert "Assets/fbxscaletest" not in pathnames
    assert "Assets/fbxscaletest/PrefabVariants" not in pathnames


def test_negative_scale_fbx_extracts_with_dead_texture_warning(packages, tmp_path):
    result = extract_model(packages / NEGATIVE_SCALE, ROTATE_CUBE, tmp_path / "out")

    assert result.model == tmp_path / "out" / ROTATE_CUBE
    assert result.model.read_bytes().startswith(b"Kaydara FBX Binary  \x00")
    assert result.textures == ()
    assert files_under(tmp_path / "out") == [ROTATE_CUBE]
    assert len(result.warnings) == 1
    assert "l.jpg.jpg" in result.warnings[0]


def test_extracted_fbx_matches_package_bytes(packages, tmp_path):
    result = extract_model(packages / NEGATIVE_SCALE, ROTATE_CUBE, tmp_path / "out")

    with tarfile.open(packages / NEGATIVE_SCALE) as bundle:
        original = bundle.extractfile("b032cc76c8fb6be419336bd9ba71f504/asset").read()
    assert result.model.read_bytes() == original
    assert inspect_fbx(result.model).fbx_version == 7400


def test_every_scale_test_fbx_extracts(packages, tmp_path):
    models = list_models(packages / SCALE_TEST)

    for index, model in enumerate(models):
        result = extract_model(packages / SCALE_TEST, model, tmp_path / f"out{index}")
        assert result.model.name == model.name
        assert result.model.stat().st_size == model.size


def test_model_chosen_by_guid(packages, tmp_path):
    result = extract_model(
        packages / NEGATIVE_SCALE, "b032cc76c8fb6be419336bd9ba71f504", tmp_path / "o"
    )

    assert result.model.name == "rotatecube.fbx"


def test_preview_of_real_model_is_png(packages):
    model = list_models(packages / NEGATIVE_SCALE)[0]

    assert read_preview(packages / NEGATIVE_SCALE, model).startswith(b"\x89PNG")


def test_unknown_model_raises_not_found(packages, tmp_path):
    with pytest.raises(NotFoundError, match="Assets/none.fbx"):
        extract_model(packages / NEGATIVE_SCALE, "Assets/none.fbx", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_non_model_asset_is_unsupported(packages, tmp_path):
    prefab = "Assets/negative_scale_example/rotatecube Variant.prefab"

    with pytest.raises(UnsupportedFileError, match="not an FBX, OBJ, GLB or glTF"):
        extract_model(packages / NEGATIVE_SCALE, prefab, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- texture selection


def crate_package(folder: Path) -> Path:
    material = (
        b"%YAML 1.1\n--- !u!21 &2100000\nMaterial:\n  m_SavedProperties:\n    m_TexEnvs:\n"
        b"    - _MainTex:\n        m_Texture: {fileID: 2800000, guid: " + guid(6).encode()
        + b", type: 3}\n"
    )  # fmt: skip
    model_meta = (
        f"fileFormatVersion: 2\nguid: {guid(1)}\nModelImporter:\n  externalObjects:\n"
        f"  - first:\n      type: UnityEngine:Material\n      name: crate\n"
        f"    second: {{fileID: 2100000, guid: {guid(5)}, type: 2}}\n"
    ).encode()
    fbx = fbx_bytes(["C:\\Users\\artist\\Desktop\\wood.png", "D:\\old\\missing.tga"])
    return write_package(
        folder,
        [
            {
                "guid": guid(1),
                "pathname": "Assets/Pack/Models/crate.fbx",
                "asset": fbx,
                "meta": model_meta,
            },
            {"guid": guid(2), "pathname": "Assets/Pack/Textures/wood.png", "asset": PNG},
            {"guid": guid(3), "pathname": "Assets/Far/Away/wood.png", "asset": PNG + b"far"},
            {
                "guid": guid(4),
                "pathname": "Assets/Pack/Models/detail/crate_normal.png",
                "asset": PNG,
            },
            {"guid": guid(5), "pathname": "Assets/Pack/Materials/crate.mat", "asset": material},
            {"guid": guid(6), "pathname": "Assets/Pack/Textures/crate_albedo.png", "asset": PNG},
            {"guid": guid(7), "pathname": "Assets/Other/unrelated.png", "asset": PNG},
            {"guid": guid(8), "pathname": "Assets/Pack"},
        ],
    )


def test_textures_by_name_folder_and_material_are_extracted(tmp_path):
    package = crate_package(tmp_path)

    result = extract_model(package, "Assets/Pack/Models/crate.fbx", tmp_path / "out")

    assert files_under(tmp_path / "out") == [
        "Assets/Pack/Models/crate.fbx",
        "Assets/Pack/Models/detail/crate_normal.png",
        "Assets/Pack/Textures/crate_albedo.png",
        "Assets/Pack/Textures/wood.png",
    ]
    assert len(result.textures) == 3
    assert result.files[0] == result.model


def test_nearest_texture_of_shared_name_wins(tmp_path):
    package = crate_package(tmp_path)

    extract_model(package, "Assets/Pack/Models/crate.fbx", tmp_path / "out")

    assert (tmp_path / "out" / "Assets/Pack/Textures/wood.png").read_bytes() == PNG
    assert not (tmp_path / "out" / "Assets/Far").exists()


def test_texture_missing_from_package_is_a_warning(tmp_path):
    package = crate_package(tmp_path)

    result = extract_model(package, "Assets/Pack/Models/crate.fbx", tmp_path / "out")

    assert len(result.warnings) == 1
    assert "missing.tga" in result.warnings[0]


def test_obj_comes_with_library_and_its_textures(tmp_path):
    package = write_package(
        tmp_path,
        [
            {
                "guid": guid(1),
                "pathname": "Assets/Ball/ball.obj",
                "asset": b"mtllib ball.mtl\nv 0 0 0\n",
            },
            {
                "guid": guid(2),
                "pathname": "Assets/Ball/ball.mtl",
                "asset": b"newmtl A\nmap_Kd -s 2 2 2 skin.png\n",
            },
            {"guid": guid(3), "pathname": "Assets/Skins/skin.png", "asset": PNG},
            {"guid": guid(4), "pathname": "Assets/Skins/other.png", "asset": PNG},
        ],
    )

    result = extract_model(package, "Assets/Ball/ball.obj", tmp_path / "out")

    assert files_under(tmp_path / "out") == [
        "Assets/Ball/ball.mtl",
        "Assets/Ball/ball.obj",
        "Assets/Skins/skin.png",
    ]
    assert result.warnings == ()


def test_gltf_comes_with_buffer_and_images(tmp_path):
    document = gltf_document(["scene.bin"], ["tex/wood%20grain.png"])
    package = write_package(
        tmp_path,
        [
            {"guid": guid(1), "pathname": "Assets/Car/scene.gltf", "asset": gltf_bytes(document)},
            {"guid": guid(2), "pathname": "Assets/Car/scene.bin", "asset": b"\x00" * 4},
            {"guid": guid(3), "pathname": "Assets/Car/tex/wood grain.png", "asset": PNG},
        ],
    )

    result = extract_model(package, "Assets/Car/scene.gltf", tmp_path / "out")

    report = inspect_gltf(result.model, set())
    assert report.warnings == ()
    assert len(report.resources) == 2


def test_gltf_uris_follow_renamed_package_files(tmp_path):
    document = gltf_document(["CON.bin"], ["tex/a:b.png"])
    package = write_package(
        tmp_path,
        [
            {"guid": guid(1), "pathname": "Assets/Car/scene.gltf", "asset": gltf_bytes(document)},
            {"guid": guid(2), "pathname": "Assets/Car/CON.bin", "asset": b"\x00" * 4},
            {"guid": guid(3), "pathname": "Assets/Car/tex/a:b.png", "asset": PNG},
        ],
    )

    result = extract_model(package, "Assets/Car/scene.gltf", tmp_path / "out")

    report = inspect_gltf(result.model, set())
    assert sorted(path.name for path in report.resources) == ["CON_.bin", "a_b.png"]
    assert report.warnings == ()


# ---------------------------------------------------------------- hostile packages


@pytest.mark.parametrize(
    "pathname",
    [
        "../../evil.fbx",
        "Assets/../../evil.fbx",
        "/tmp/evil.fbx",
        "C:\\Users\\Public\\evil.fbx",
        "\\\\server\\share\\evil.fbx",
        "",
    ],
)
def test_hostile_pathname_rejects_package(tmp_path, pathname):
    package = write_package(tmp_path, [{"guid": guid(1), "pathname": pathname, "asset": b"x"}])

    with pytest.raises(UnsafeArchiveError):
        read_package(package)
    with pytest.raises(UnsafeArchiveError):
        extract_model(package, guid(1), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack.unitypackage"]


def test_overlong_pathname_rejects_package(tmp_path):
    package = write_package(tmp_path, [{"guid": guid(1), "pathname": "A" * 5000, "asset": b"x"}])

    with pytest.raises(UnsafeArchiveError, match="pathname"):
        read_package(package)


@pytest.mark.parametrize(
    "member",
    [
        TarMember(f"{guid(2)}/asset", kind=TAR_SYMLINK, linkname="/etc/passwd"),
        TarMember(f"{guid(2)}/asset", kind=TAR_HARD_LINK, linkname=f"{guid(1)}/asset"),
        TarMember(f"../{guid(2)}/asset", b"x"),
        TarMember(f"/{guid(2)}/asset", b"x"),
    ],
)
def test_hostile_member_rejects_package(tmp_path, member):
    package = write_package(
        tmp_path, [{"guid": guid(1), "pathname": "Assets/a.fbx", "asset": b"x"}], extra=[member]
    )

    with pytest.raises(UnsafeArchiveError):
        read_package(package)


def test_reserved_windows_name_in_pathname_is_renamed(tmp_path):
    package = write_package(
        tmp_path,
        [{"guid": guid(1), "pathname": "Assets/AUX/CON.fbx", "asset": fbx_bytes([])}],
    )

    result = extract_model(package, "Assets/AUX/CON.fbx", tmp_path / "out")

    assert files_under(tmp_path / "out") == ["Assets/AUX_/CON_.fbx"]
    assert result.model.name == "CON_.fbx"


def test_pathname_second_line_is_ignored(tmp_path):
    package = write_package(
        tmp_path, [{"guid": guid(1), "pathname": "Assets/a.fbx\n00", "asset": b"x"}]
    )

    assert [asset.pathname for asset in read_package(package).assets] == ["Assets/a.fbx"]


def test_members_outside_guid_folders_are_ignored(tmp_path):
    package = write_package(
        tmp_path,
        [{"guid": guid(1), "pathname": "Assets/a.fbx", "asset": b"x"}],
        extra=[TarMember(".icon.png", PNG), TarMember("notaguid/asset", b"x")],
    )

    assert [asset.pathname for asset in read_package(package).assets] == ["Assets/a.fbx"]


def test_duplicate_pathname_takes_first_asset(tmp_path):
    package = write_package(
        tmp_path,
        [
            {"guid": guid(1), "pathname": "Assets/M/a.obj", "asset": b"mtllib a.mtl\n"},
            {"guid": guid(2), "pathname": "Assets/M/a.mtl", "asset": b"newmtl one\n"},
            {"guid": guid(3), "pathname": "Assets/M/a.mtl", "asset": b"newmtl two\n"},
        ],
    )

    result = extract_model(package, guid(1), tmp_path / "out")

    assert len(result.files) == 2
    assert (tmp_path / "out" / "Assets/M/a.mtl").read_bytes() == b"newmtl one\n"


def test_damaged_package_is_rejected(tmp_path, packages):
    damaged = tmp_path / "cut.unitypackage"
    damaged.write_bytes((packages / NEGATIVE_SCALE).read_bytes()[:5000])

    with pytest.raises(UnsafeArchiveError, match="not a valid Unity package"):
        read_package(damaged)


# ---------------------------------------------------------------- Unity's folders


def test_windows_download_folder_uses_appdata():
    folders = unity_download_folders(
        "Windows", PureWindowsPath("C:/Users/ana"), {"APPDATA": "D:\\Roaming"}
    )

    assert folders == [PureWindowsPath("D:/Roaming/Unity") / ASSET_STORE_FOLDER]


def test_windows_download_folder_without_appdata():
    folders = unity_download_folders("Windows", PureWindowsPath("C:/Users/ana"), {})

    assert folders == [PureWindowsPath("C:/Users/ana/AppData/Roaming/Unity/Asset Store-5.x")]


def test_macos_download_folder():
    folders = unity_download_folders("Darwin", PurePosixPath("/Users/ana"), {})

    assert [str(folder) for folder in folders] == ["/Users/ana/Library/Unity/Asset Store-5.x"]


def test_linux_download_folder():
    folders = unity_download_folders("Linux", PurePosixPath("/home/ana"), {})

    assert [str(folder) for folder in folders] == ["/home/ana/.local/share/unity3d/Asset Store-5.x"]


def test_cache_path_variable_comes_first():
    folders = unity_download_folders(
        "Linux", PurePosixPath("/home/ana"), {"ASSETSTORE_CACHE_PATH": "/mnt/unity"}
    )

    assert [str(folder) for folder in folders] == [
        "/mnt/unity/Asset Store-5.x",
        "/home/ana/.local/share/unity3d/Asset Store-5.x",
    ]


def test_unknown_system_raises():
    with pytest.raises(ConfigurationError, match="Plan9"):
        unity_download_folders("Plan9", PurePosixPath("/usr/glenda"), {})


def test_find_unity_packages_walks_publisher_folders(tmp_path, packages):
    store = tmp_path / ASSET_STORE_FOLDER
    (store / "Publisher" / "3D ModelsProps").mkdir(parents=True)
    (store / "Other" / "Textures").mkdir(parents=True)
    (store / "Publisher" / "3D ModelsProps" / "Crates.unitypackage").write_bytes(b"x")
    (store / "Other" / "Textures" / "Wood.UNITYPACKAGE").write_bytes(b"x")
    (store / "Other" / "notes.txt").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Hidden.unitypackage").write_bytes(b"x")
    os.symlink(outside, store / "linked")

    found = find_unity_packages([store, tmp_path / "missing"])

    assert [path.name for path in found] == ["Wood.UNITYPACKAGE", "Crates.unitypackage"]
