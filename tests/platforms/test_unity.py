"""UnityPackageClient over real Unity packages laid out as Unity's editor stores its
Asset Store downloads, plus a folder the user names and hostile packages."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from fakes.hostile import TAR_SYMLINK, TarMember, fbx_bytes, unity_package
from meshport.core.config import resolve_unity_dir
from meshport.core.errors import (
    ConfigurationError,
    JobCancelledError,
    NotFoundError,
    UnsafeArchiveError,
    UnsupportedFileError,
)
from meshport.core.jobs import Job, JobContext, JobRunner
from meshport.core.models import DownloadOptions, SearchQuery
from meshport.core.unitypackage import ASSET_STORE_FOLDER
from meshport.platforms.unity import (
    DIGEST_LENGTH,
    OTHER_LICENSE,
    STORE_LICENSE,
    UnityPackageClient,
)
from support import require

NEGATIVE_SCALE = "negative_scale_example.unitypackage"
SCALE_TEST = "fbxscaletest.unitypackage"
ROTATE_CUBE_GUID = "b032cc76c8fb6be419336bd9ba71f504"
STORE_NEGATIVE_SCALE = f"V-Sekai/3D ModelsProps/{NEGATIVE_SCALE}"
STORE_SCALE_TEST = f"Unidot/Tools/{SCALE_TEST}"
SCALE_TEST_MODELS = 12
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def guid(number: int) -> str:
    return f"{number:032x}"


def copy_package(sample_assets: Path, name: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample_assets / "unitypackage" / name, target)
    return target


def write_package(target: Path, assets: list[dict], extra: list[TarMember] | None = None) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(unity_package(assets, extra=extra))
    return target


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def ids(page) -> list[str]:
    return [asset.asset_id for asset in page.results]


@pytest.fixture
def unity_store(tmp_path, monkeypatch, sample_assets) -> Path:
    """Unity's download folder, found through ASSETSTORE_CACHE_PATH, with the two real
    packages under ``<publisher>/<category>/``. HOME and APPDATA point at an empty
    folder, so the real user's Unity downloads are never read."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    monkeypatch.setenv("ASSETSTORE_CACHE_PATH", str(tmp_path / "unity-cache"))
    monkeypatch.delenv("MESHPORT_UNITY_DIR", raising=False)
    store = tmp_path / "unity-cache" / ASSET_STORE_FOLDER
    copy_package(sample_assets, NEGATIVE_SCALE, store / STORE_NEGATIVE_SCALE)
    copy_package(sample_assets, SCALE_TEST, store / STORE_SCALE_TEST)
    return store


@pytest.fixture
def user_folder(tmp_path) -> Path:
    folder = tmp_path / "my-packages"
    folder.mkdir()
    return folder


@pytest.fixture
def make_client(make_settings, unity_store):
    def build(unity_dir: Path | None = None, **overrides) -> UnityPackageClient:
        return UnityPackageClient(make_settings(unity_dir=unity_dir, **overrides))

    return build


@pytest.fixture
def client(make_client) -> UnityPackageClient:
    return make_client()


@pytest.fixture
def runner():
    jobs = JobRunner(max_workers=1)
    yield jobs
    jobs.shutdown(timeout=2)


@pytest.fixture
def context(runner) -> JobContext:
    return JobContext(Job(job_id=1, label="unity download"), runner)


@pytest.fixture
def downloads(tmp_path) -> Path:
    return tmp_path / "downloads"


def rotate_cube_id() -> str:
    return f"{STORE_NEGATIVE_SCALE}::{ROTATE_CUBE_GUID}"


def progress_events(runner: JobRunner) -> list[tuple]:
    events = []
    while not runner.events.empty():
        _job, kind, payload = runner.events.get_nowait()
        if kind == "progress":
            events.append(payload)
    return events


# Client description


def test_client_needs_no_key_and_is_official(client):
    assert client.platform_id == "unity"
    assert client.label == "Unity packages"
    assert client.needs_key is False
    assert client.official is True


def test_notice_says_purchases_cannot_be_downloaded(client):
    assert "cannot be downloaded by a third-party tool" in client.notice
    assert ".unitypackage files already on disk" in client.notice


def test_unity_dir_variable_wins_over_preference(monkeypatch, tmp_path):
    monkeypatch.setenv("MESHPORT_UNITY_DIR", str(tmp_path / "from-env"))

    assert resolve_unity_dir("/from/preference") == tmp_path / "from-env"


def test_unity_dir_preference_used_without_variable(monkeypatch):
    monkeypatch.delenv("MESHPORT_UNITY_DIR", raising=False)

    assert resolve_unity_dir(" /from/preference ") == Path("/from/preference")
    assert resolve_unity_dir("") is None


# Search


def test_search_lists_every_model_of_every_package(client):
    page = client.search(SearchQuery("", count=100))

    assert len(page.results) == 1 + SCALE_TEST_MODELS
    assert page.next_page is None
    assert all(asset.formats == ("fbx",) for asset in page.results)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("negative", 1),
        ("ROTATECUBE", 1),
        ("negative_scale rotatecube", 1),
        ("fbxscaletest", SCALE_TEST_MODELS),
        ("fbxscaletest noconv", 6),
        ("negative fbxscaletest", 0),
        ("no-such-model", 0),
    ],
)
def test_search_matches_every_word(client, text, expected):
    assert len(client.search(SearchQuery(text, count=100)).results) == expected


def test_search_matches_package_name_not_publisher(client):
    assert client.search(SearchQuery("V-Sekai")).results == []


def test_search_result_describes_store_model(client, unity_store):
    asset = client.search(SearchQuery("rotatecube")).results[0]
    stat = (unity_store / STORE_NEGATIVE_SCALE).stat()

    assert asset.platform == "unity"
    assert asset.asset_id == rotate_cube_id()
    assert asset.name == "rotatecube"
    assert asset.author == "V-Sekai"
    assert asset.license == STORE_LICENSE
    assert asset.version == f"{stat.st_size}-{stat.st_mtime_ns}"
    assert asset.formats == ("fbx",)
    assert asset.download_size > 0
    assert asset.url == (unity_store / STORE_NEGATIVE_SCALE).resolve().as_uri()


def test_user_folder_package_has_no_publisher(make_client, user_folder, sample_assets):
    copy_package(sample_assets, NEGATIVE_SCALE, user_folder / "imports" / NEGATIVE_SCALE)
    client = make_client(user_folder)

    results = client.search(SearchQuery("rotatecube")).results
    mine = [asset for asset in results if asset.asset_id.startswith("imports/")]

    assert len(results) == 2
    assert mine[0].asset_id == f"imports/{NEGATIVE_SCALE}::{ROTATE_CUBE_GUID}"
    assert mine[0].author == ""
    assert mine[0].license == OTHER_LICENSE


def test_user_folder_from_variable(make_client, user_folder, sample_assets, monkeypatch):
    copy_package(sample_assets, NEGATIVE_SCALE, user_folder / "mine.unitypackage")
    monkeypatch.setenv("MESHPORT_UNITY_DIR", str(user_folder))

    results = make_client().search(SearchQuery("mine")).results

    assert [asset.asset_id for asset in results] == [f"mine.unitypackage::{ROTATE_CUBE_GUID}"]


def test_store_layout_in_user_folder_names_publisher(make_client, tmp_path, sample_assets):
    folder = tmp_path / "backup" / ASSET_STORE_FOLDER
    copy_package(sample_assets, NEGATIVE_SCALE, folder / "Studio" / "Props" / "copy.unitypackage")
    client = make_client(folder)

    asset = client.search(SearchQuery("copy")).results[0]

    assert asset.author == "Studio"
    assert asset.license == STORE_LICENSE


def test_package_in_two_folders_is_listed_once(make_client, unity_store):
    client = make_client(unity_store)

    assert len(client.search(SearchQuery("rotatecube")).results) == 1


def test_pages_cover_every_model_once(client):
    seen = []
    page = client.search(SearchQuery("", count=5))
    seen.extend(ids(page))
    while page.next_page:
        page = client.search(SearchQuery(page_token=page.next_page))
        seen.extend(ids(page))

    assert len(seen) == 1 + SCALE_TEST_MODELS
    assert len(set(seen)) == len(seen)


def test_search_rejects_filters(client):
    with pytest.raises(ConfigurationError, match="filter"):
        client.search(SearchQuery("", filters={"category": "3d"}))


def test_search_rejects_invalid_page_token(client):
    with pytest.raises(ConfigurationError, match="page token"):
        client.search(SearchQuery(page_token="not-a-token"))


def test_search_honours_cancel(client, context):
    context.cancel()

    with pytest.raises(JobCancelledError):
        client.search(SearchQuery(""), context)


def test_works_with_online_access_off(make_client, context, downloads):
    client = make_client(online_access=False)

    page = client.search(SearchQuery("rotatecube"))
    result = client.download(page.results[0], downloads, context)

    assert ids(page) == [rotate_cube_id()]
    assert result.model_path.is_file()


def test_missing_user_folder_names_variable(make_client, tmp_path):
    missing = tmp_path / "nowhere"

    with pytest.raises(ConfigurationError) as raised:
        make_client(missing).search(SearchQuery(""))

    assert str(missing) in raised.value.message
    assert "MESHPORT_UNITY_DIR" in raised.value.message


def test_no_folder_found_names_variable(make_client, unity_store):
    shutil.rmtree(unity_store)

    with pytest.raises(ConfigurationError) as raised:
        make_client().search(SearchQuery(""))

    assert ASSET_STORE_FOLDER in raised.value.message
    assert "MESHPORT_UNITY_DIR" in raised.value.message


# Packages that cannot be read


def hostile_packages(folder: Path) -> dict[str, Path]:
    """Packages whose pathname or member names escape, and one cut short."""
    fbx = fbx_bytes([])
    return {
        "climbing": write_package(
            folder / "climbing.unitypackage",
            [{"guid": guid(1), "pathname": "../../evil.fbx", "asset": fbx}],
        ),
        "absolute": write_package(
            folder / "absolute.unitypackage",
            [{"guid": guid(1), "pathname": "/tmp/evil.fbx", "asset": fbx}],
        ),
        "drive": write_package(
            folder / "drive.unitypackage",
            [{"guid": guid(1), "pathname": "C:\\Users\\Public\\evil.fbx", "asset": fbx}],
        ),
        "member": write_package(
            folder / "member.unitypackage",
            [{"guid": guid(1), "pathname": "Assets/fine.fbx", "asset": fbx}],
            extra=[TarMember(f"../{guid(2)}/asset", b"x")],
        ),
        "link": write_package(
            folder / "link.unitypackage",
            [{"guid": guid(1), "pathname": "Assets/fine.fbx", "asset": fbx}],
            extra=[TarMember(f"{guid(2)}/asset", kind=TAR_SYMLINK, linkname="/etc/passwd")],
        ),
        "damaged": _cut_package(folder / "damaged.unitypackage"),
    }


def _cut_package(target: Path) -> Path:
    """Write a package cut off inside its asset, whose bytes do not compress."""
    noise = b"".join(hashlib.sha256(bytes([index])).digest() for index in range(256))
    data = unity_package([{"guid": guid(1), "pathname": "Assets/a.fbx", "asset": noise}])
    target.write_bytes(data[: len(data) // 2])
    return target


def test_unreadable_packages_are_skipped_with_warning(make_client, user_folder, caplog):
    hostile = hostile_packages(user_folder)
    client = make_client(user_folder)

    with caplog.at_level(logging.WARNING, logger="meshport.platforms.unity"):
        page = client.search(SearchQuery("", count=100))

    assert len(page.results) == 1 + SCALE_TEST_MODELS
    for path in hostile.values():
        assert any(str(path) in record.getMessage() for record in caplog.records), path.name


def test_unreadable_package_warns_once(make_client, user_folder, caplog):
    hostile_packages(user_folder)
    client = make_client(user_folder)
    client.search(SearchQuery(""))
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="meshport.platforms.unity"):
        client.search(SearchQuery(""))

    assert caplog.records == []


@pytest.mark.parametrize("name", ["climbing", "absolute", "drive", "member", "link", "damaged"])
def test_hostile_package_raises_in_get_asset(make_client, user_folder, name):
    hostile = hostile_packages(user_folder)
    client = make_client(user_folder)

    with pytest.raises(UnsafeArchiveError):
        client.get_asset(f"{hostile[name].name}::{guid(1)}")


@pytest.mark.parametrize("name", ["climbing", "absolute", "drive"])
def test_hostile_package_download_leaves_nothing(
    make_client, user_folder, tmp_path, context, downloads, name
):
    hostile = hostile_packages(user_folder)
    client = make_client(user_folder)
    asset = client.search(SearchQuery("rotatecube")).results[0]
    forged = replace(asset, asset_id=f"{hostile[name].name}::{guid(1)}")

    with pytest.raises(UnsafeArchiveError):
        client.download(forged, downloads, context)

    assert files_under(downloads) == []
    assert not (tmp_path / "evil.fbx").exists()
    assert not Path("/tmp/evil.fbx").exists()


# Ids


@pytest.mark.parametrize(
    "asset_id",
    [
        f"../outside.unitypackage::{guid(1)}",
        f"V-Sekai/../../outside.unitypackage::{guid(1)}",
        f"/etc/outside.unitypackage::{guid(1)}",
        f"C:/outside.unitypackage::{guid(1)}",
        f"\\\\server\\share\\outside.unitypackage::{guid(1)}",
        f"::{guid(1)}",
        f"notes.txt::{guid(1)}",
        f"{STORE_NEGATIVE_SCALE}::not-a-guid",
        STORE_NEGATIVE_SCALE,
        "",
    ],
)
def test_invalid_or_escaping_ids_are_rejected(client, asset_id):
    with pytest.raises(ConfigurationError):
        client.get_asset(asset_id)


def test_id_through_link_outside_is_rejected(make_client, user_folder, tmp_path, sample_assets):
    outside = copy_package(sample_assets, NEGATIVE_SCALE, tmp_path / "outside" / NEGATIVE_SCALE)
    (user_folder / "linked.unitypackage").symlink_to(outside)
    client = make_client(user_folder)

    with pytest.raises(ConfigurationError, match="link"):
        client.get_asset(f"linked.unitypackage::{ROTATE_CUBE_GUID}")
    assert client.search(SearchQuery("linked")).results == []


def test_backslash_id_and_upper_case_guid_are_normalised(client):
    asset_id = f"{STORE_NEGATIVE_SCALE.replace('/', chr(92))}::{ROTATE_CUBE_GUID.upper()}"

    assert client.get_asset(asset_id).asset_id == rotate_cube_id()


def test_missing_package_raises_not_found(client):
    with pytest.raises(NotFoundError, match="gone.unitypackage"):
        client.get_asset(f"V-Sekai/3D ModelsProps/gone.unitypackage::{ROTATE_CUBE_GUID}")


def test_guid_not_in_package_raises_not_found(client):
    with pytest.raises(NotFoundError, match=guid(9)):
        client.get_asset(f"{STORE_NEGATIVE_SCALE}::{guid(9)}")


def test_guid_of_non_model_raises_unsupported(make_client, user_folder):
    write_package(
        user_folder / "mixed.unitypackage",
        [
            {"guid": guid(1), "pathname": "Assets/a.fbx", "asset": fbx_bytes([])},
            {"guid": guid(2), "pathname": "Assets/a.png", "asset": PNG},
        ],
    )

    with pytest.raises(UnsupportedFileError, match="Assets/a.png"):
        make_client(user_folder).get_asset(f"mixed.unitypackage::{guid(2)}")


def test_get_asset_matches_search_result(client):
    found = client.search(SearchQuery("rotatecube")).results[0]

    assert client.get_asset(found.asset_id) == found


# Extracting


def test_download_extracts_model_under_short_hash(client, unity_store, context, downloads):
    asset = client.get_asset(rotate_cube_id())

    result = client.download(asset, downloads, context)

    digest = hashlib.sha256(f"{asset.asset_id}\0{asset.version}".encode()).hexdigest()
    assert result.folder == downloads / digest[:DIGEST_LENGTH]
    assert result.model_path == result.folder / "Assets/negative_scale_example/rotatecube.fbx"
    assert result.file_format == "fbx"
    assert result.asset == asset
    assert result.model_path.read_bytes().startswith(b"Kaydara FBX Binary  \x00")
    assert files_under(downloads) == [
        digest[:DIGEST_LENGTH],
        f"{digest[:DIGEST_LENGTH]}/Assets",
        f"{digest[:DIGEST_LENGTH]}/Assets/negative_scale_example",
        f"{digest[:DIGEST_LENGTH]}/Assets/negative_scale_example/rotatecube.fbx",
    ]


def test_download_reports_progress(client, runner, context, downloads):
    client.download(client.get_asset(rotate_cube_id()), downloads, context)

    events = progress_events(runner)

    assert events[0][0] is None
    assert "rotatecube.fbx" in events[0][1]
    assert events[-1][0] == 1.0


def test_every_scale_test_model_extracts(client, context, downloads):
    assets = client.search(SearchQuery("fbxscaletest", count=100)).results

    results = [client.download(asset, downloads, context) for asset in assets]

    assert len(results) == SCALE_TEST_MODELS
    assert all(result.model_path.stat().st_size == result.asset.download_size for result in results)
    assert len({result.folder for result in results}) == SCALE_TEST_MODELS


def test_download_brings_textures(make_client, user_folder, context, downloads):
    model = fbx_bytes(["C:\\Users\\artist\\crate_albedo.png"])
    write_package(
        user_folder / "crates.unitypackage",
        [
            {"guid": guid(1), "pathname": "Assets/Crates/crate.fbx", "asset": model},
            {"guid": guid(2), "pathname": "Assets/Textures/crate_albedo.png", "asset": PNG},
            {"guid": guid(3), "pathname": "Assets/Other/unrelated.png", "asset": PNG},
        ],
    )
    client = make_client(user_folder)

    result = client.download(
        client.get_asset(f"crates.unitypackage::{guid(1)}"), downloads, context
    )

    assert (result.folder / "Assets/Textures/crate_albedo.png").read_bytes() == PNG
    assert not (result.folder / "Assets/Other/unrelated.png").exists()


def test_download_twice_replaces_extraction(client, context, downloads):
    asset = client.get_asset(rotate_cube_id())
    first = client.download(asset, downloads, context)
    (first.folder / "stray.txt").write_text("left over", encoding="utf-8")

    second = client.download(asset, downloads, context)

    assert second.model_path == first.model_path
    assert not (second.folder / "stray.txt").exists()


def test_download_of_replaced_package_extracts_current_version(
    client, unity_store, context, downloads
):
    asset = client.get_asset(rotate_cube_id())
    package = unity_store / STORE_NEGATIVE_SCALE
    package.write_bytes(gzip.compress(gzip.decompress(package.read_bytes()), mtime=0))
    os.utime(package, ns=(0, 10**18))

    result = client.download(asset, downloads, context)

    assert result.asset.version != asset.version
    assert result.model_path.is_file()


def test_cancelled_download_leaves_nothing(client, context, downloads):
    asset = client.get_asset(rotate_cube_id())
    context.cancel()

    with pytest.raises(JobCancelledError):
        client.download(asset, downloads, context)

    assert files_under(downloads) == []


def test_download_of_deleted_package_raises_not_found(client, unity_store, context, downloads):
    asset = client.get_asset(rotate_cube_id())
    (unity_store / STORE_NEGATIVE_SCALE).unlink()

    with pytest.raises(NotFoundError):
        client.download(asset, downloads, context)

    assert files_under(downloads) == []


def test_format_option_must_match_model(client, context, downloads):
    asset = client.get_asset(rotate_cube_id())

    with pytest.raises(ConfigurationError, match="'glb'"):
        client.download(asset, downloads, context, DownloadOptions(file_format="glb"))
    assert client.download(asset, downloads, context, DownloadOptions(file_format="FBX"))


def test_resolution_option_is_rejected(client, context, downloads):
    asset = client.get_asset(rotate_cube_id())

    with pytest.raises(ConfigurationError, match="resolution"):
        client.download(asset, downloads, context, DownloadOptions(resolution="2k"))


# Importing into Blender


def test_extracted_model_imports_into_blender(client, context, downloads, tmp_path, monkeypatch):
    require(importlib.util.find_spec("bpy") is not None, "bpy is not installed")
    monkeypatch.setenv("BLENDER_USER_RESOURCES", str(tmp_path / "blender-user"))
    import bpy
    from meshport.blender import service

    require(hasattr(service, "import_file"), "meshport.blender.service has no import_file")
    result = client.download(client.get_asset(rotate_cube_id()), downloads, context)
    bpy.ops.wm.read_homefile(use_empty=True)

    imported = service.import_file(result.model_path, asset=result.asset)

    assert len(imported.meshes) >= 1
    assert all(bpy.data.objects.get(name) is not None for name in imported.objects)
    assert any(obj.type == "MESH" for obj in bpy.data.objects)
