"""LocalLibraryClient over a folder of real sample files."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from meshport.core.errors import (
    ConfigurationError,
    NotFoundError,
    UnsafeArchiveError,
    UnsupportedFileError,
)
from meshport.core.jobs import Job, JobContext, JobRunner
from meshport.core.models import Asset, DownloadOptions, SearchQuery
from meshport.platforms import registry
from meshport.platforms.local import LocalLibraryClient

LIBRARY_FILES = [
    "Box.glb",
    "animals/Fox.glb",
    "ball/blender_279_ball_0_obj.obj",
    "cube/maya_cube_7400_binary.fbx",
    "fox_gltf/Fox.gltf",
    "packs/fox_pack.zip",
]


def pack_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def library_dir(tmp_path, sample_assets) -> Path:
    """A library of copied sample files, plus files the search must skip: a .txt,
    the .mtl and .bin beside models, and hidden files and folders."""
    root = tmp_path / "library"
    copies = {
        "glb/Box.glb": "Box.glb",
        "glb/Fox.glb": "animals/Fox.glb",
        "obj/blender_279_ball_0_obj.obj": "ball/blender_279_ball_0_obj.obj",
        "obj/blender_279_ball_0_obj.mtl": "ball/blender_279_ball_0_obj.mtl",
        "fbx/maya_cube_7400_binary.fbx": "cube/maya_cube_7400_binary.fbx",
        "gltf/Fox/Fox.gltf": "fox_gltf/Fox.gltf",
        "gltf/Fox/Fox.bin": "fox_gltf/Fox.bin",
        "gltf/Fox/Texture.png": "fox_gltf/Texture.png",
        "glb/CesiumMan.glb": ".hidden/CesiumMan.glb",
        "glb/Box_Draco.glb": ".Box_Draco.glb",
    }
    for source, target in copies.items():
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample_assets / source, root / target)
    fox = sample_assets / "gltf" / "Fox"
    (root / "packs").mkdir()
    (root / "packs" / "fox_pack.zip").write_bytes(
        pack_zip(
            {
                "fox_pack/scene.gltf": (fox / "Fox.gltf").read_bytes(),
                "fox_pack/Fox.bin": (fox / "Fox.bin").read_bytes(),
                "fox_pack/Texture.png": (fox / "Texture.png").read_bytes(),
            }
        )
    )
    (root / "notes.txt").write_text("not a model", encoding="utf-8")
    return root


@pytest.fixture
def make_client(make_settings):
    def build(local_dir: Path | None, **overrides) -> LocalLibraryClient:
        return LocalLibraryClient(make_settings(local_dir=local_dir, **overrides))

    return build


@pytest.fixture
def client(make_client, library_dir) -> LocalLibraryClient:
    return make_client(library_dir)


@pytest.fixture
def runner():
    jobs = JobRunner(max_workers=1)
    yield jobs
    jobs.shutdown(timeout=2)


@pytest.fixture
def context(runner) -> JobContext:
    return JobContext(Job(job_id=1, label="local download"), runner)


@pytest.fixture
def downloads(tmp_path) -> Path:
    return tmp_path / "downloads"


def ids(page) -> list[str]:
    return [asset.asset_id for asset in page.results]


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def local_asset(client: LocalLibraryClient, asset_id: str) -> Asset:
    return client.get_asset(asset_id)


# Search


def test_search_lists_model_and_zip_files(client):
    assert ids(client.search(SearchQuery(""))) == sorted(LIBRARY_FILES, key=str.lower)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("fox", ["animals/Fox.glb", "fox_gltf/Fox.gltf", "packs/fox_pack.zip"]),
        ("FOX Pack", ["packs/fox_pack.zip"]),
        ("animals fox", ["animals/Fox.glb"]),
        ("cube 7400", ["cube/maya_cube_7400_binary.fbx"]),
        ("fox cube", []),
        ("cesiumman", []),
    ],
)
def test_search_matches_every_word_of_path(client, text, expected):
    assert ids(client.search(SearchQuery(text))) == expected


def test_search_result_describes_file(client, library_dir):
    (asset,) = client.search(SearchQuery("animals")).results
    stat = (library_dir / "animals" / "Fox.glb").stat()

    assert asset.platform == "local"
    assert asset.name == "Fox"
    assert asset.download_size == stat.st_size
    assert asset.version == f"{stat.st_size}-{stat.st_mtime_ns}"
    assert asset.formats == ("glb",)


def test_version_changes_when_file_changes(client, library_dir):
    before = local_asset(client, "Box.glb").version
    path = library_dir / "Box.glb"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))

    assert local_asset(client, "Box.glb").version != before


def test_pages_cover_every_file_once(client):
    first = client.search(SearchQuery("", count=4))
    second = client.search(SearchQuery(page_token=first.next_page))

    assert ids(first) + ids(second) == sorted(LIBRARY_FILES, key=str.lower)
    assert len(ids(first)) == 4
    assert second.next_page is None


def test_search_rejects_filters(client):
    with pytest.raises(ConfigurationError):
        client.search(SearchQuery("", {"categories": ["animals"]}))


def test_search_rejects_invalid_page_token(client):
    with pytest.raises(ConfigurationError):
        client.search(SearchQuery(page_token="garbage!"))


def test_search_skips_link_leading_outside(client, library_dir, tmp_path, sample_assets):
    outside = tmp_path / "outside.glb"
    shutil.copyfile(sample_assets / "glb" / "Box.glb", outside)
    (library_dir / "linked.glb").symlink_to(outside)

    assert "linked.glb" not in ids(client.search(SearchQuery("")))


# The folder setting


def test_unset_folder_names_variable_and_preference(make_client):
    client = make_client(None)

    with pytest.raises(ConfigurationError) as raised:
        client.search(SearchQuery(""))

    assert "MESHPORT_LOCAL_DIR" in raised.value.message
    assert "preference" in raised.value.message


def test_missing_folder_names_folder(make_client, tmp_path):
    missing = tmp_path / "no-such-folder"

    with pytest.raises(ConfigurationError) as raised:
        make_client(missing).search(SearchQuery(""))

    assert str(missing) in raised.value.message
    assert "MESHPORT_LOCAL_DIR" in raised.value.message


def test_works_with_online_access_off(make_client, library_dir, context, downloads):
    client = make_client(library_dir, online_access=False)

    page = client.search(SearchQuery("box"))
    result = client.download(page.results[0], downloads, context)

    assert ids(page) == ["Box.glb"]
    assert result.model_path == library_dir / "Box.glb"


def test_registry_creates_local_client(make_settings, library_dir):
    client = registry.create_client("local", make_settings(local_dir=library_dir))

    assert isinstance(client, LocalLibraryClient)
    assert client.needs_key is False


# Ids


@pytest.mark.parametrize(
    "asset_id", ["../outside.glb", "animals/../../outside.glb", "/etc/passwd", "C:/x.glb", ""]
)
def test_ids_escaping_folder_are_rejected(client, asset_id):
    with pytest.raises(ConfigurationError):
        client.get_asset(asset_id)


def test_id_through_link_outside_is_rejected(client, library_dir, tmp_path, sample_assets):
    outside = tmp_path / "outside.glb"
    shutil.copyfile(sample_assets / "glb" / "Box.glb", outside)
    (library_dir / "linked.glb").symlink_to(outside)

    with pytest.raises(ConfigurationError):
        client.get_asset("linked.glb")


@pytest.mark.parametrize("asset_id", ["gone.glb", "notes.txt", "animals"])
def test_missing_or_unsupported_file_raises_not_found(client, asset_id):
    with pytest.raises(NotFoundError):
        client.get_asset(asset_id)


def test_backslash_id_is_normalised(client):
    assert client.get_asset("animals\\Fox.glb").asset_id == "animals/Fox.glb"


# Opening files


@pytest.mark.parametrize(
    "asset_id, file_format",
    [
        ("animals/Fox.glb", "glb"),
        ("fox_gltf/Fox.gltf", "gltf"),
        ("cube/maya_cube_7400_binary.fbx", "fbx"),
        ("ball/blender_279_ball_0_obj.obj", "obj"),
    ],
)
def test_download_returns_file_in_place(
    client, library_dir, context, downloads, asset_id, file_format
):
    result = client.download(local_asset(client, asset_id), downloads, context)

    assert result.model_path == library_dir / asset_id
    assert result.folder == library_dir
    assert result.file_format == file_format
    assert files_under(downloads) == []


def test_download_extracts_zip(client, context, downloads):
    result = client.download(local_asset(client, "packs/fox_pack.zip"), downloads, context)

    assert result.file_format == "gltf"
    assert result.model_path.name == "scene.gltf"
    assert result.model_path.is_relative_to(result.folder)
    assert result.folder.parent == downloads
    assert (result.model_path.parent / "Fox.bin").is_file()
    assert (result.model_path.parent / "Texture.png").is_file()


def test_download_zip_twice_replaces_extraction(client, context, downloads):
    asset = local_asset(client, "packs/fox_pack.zip")
    first = client.download(asset, downloads, context)
    (first.model_path.parent / "stray.txt").write_text("left over", encoding="utf-8")

    second = client.download(asset, downloads, context)

    assert second.model_path == first.model_path
    assert not (second.model_path.parent / "stray.txt").exists()


def test_zip_without_model_leaves_nothing(client, library_dir, context, downloads):
    (library_dir / "empty.zip").write_bytes(pack_zip({"readme.txt": b"no model here"}))

    with pytest.raises(UnsupportedFileError):
        client.download(local_asset(client, "empty.zip"), downloads, context)
    assert files_under(downloads) == []


def test_hostile_zip_leaves_nothing(client, library_dir, context, downloads):
    (library_dir / "hostile.zip").write_bytes(pack_zip({"../escape.glb": b"glTF"}))

    with pytest.raises(UnsafeArchiveError):
        client.download(local_asset(client, "hostile.zip"), downloads, context)
    assert files_under(downloads) == []
    assert not (downloads.parent / "escape.glb").exists()


def test_zip_format_option_picks_model(client, library_dir, sample_assets, context, downloads):
    both = pack_zip(
        {
            "box.glb": (sample_assets / "glb" / "Box.glb").read_bytes(),
            "cube.fbx": (sample_assets / "fbx" / "maya_cube_7400_binary.fbx").read_bytes(),
        }
    )
    (library_dir / "both.zip").write_bytes(both)
    asset = local_asset(client, "both.zip")

    default = client.download(asset, downloads, context)
    chosen = client.download(asset, downloads, context, DownloadOptions(file_format="fbx"))

    assert default.model_path.name == "box.glb"
    assert chosen.model_path.name == "cube.fbx"


def test_format_option_must_match_file(client, context, downloads):
    with pytest.raises(ConfigurationError):
        client.download(
            local_asset(client, "Box.glb"), downloads, context, DownloadOptions(file_format="fbx")
        )


def test_resolution_option_is_rejected(client, context, downloads):
    with pytest.raises(ConfigurationError):
        client.download(
            local_asset(client, "Box.glb"), downloads, context, DownloadOptions(resolution="2k")
        )


def test_download_of_deleted_file_raises_not_found(client, library_dir, context, downloads):
    asset = local_asset(client, "Box.glb")
    (library_dir / "Box.glb").unlink()

    with pytest.raises(NotFoundError):
        client.download(asset, downloads, context)
