"""AssetCache: hits, misses, eviction, damaged entries, users, threads and processes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from fakes.files import FileServer
from meshport.core.asset_cache import (
    AssetCache,
    CacheKey,
    credential_fingerprint,
    local_file_version,
)
from meshport.core.download import FileCheck, download_file
from meshport.core.http import PlatformHttp
from meshport.core.jobs import JobRunner
from meshport.core.secrets import Secret
from support import REPO_ROOT

KIB = 1024


def make_key(
    asset_id: str = "fox", version: str = "2024-05-01T10:00:00", **fields
) -> CacheKey:
    return CacheKey("sketchfab", asset_id, version, **fields)


def write_file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def store_bytes(cache: AssetCache, key: CacheKey, data: bytes, name: str = "model.glb"):
    with cache.staging() as folder:
        write_file(folder, name, data)
        return cache.store(key, folder, main_file=name)


@pytest.fixture
def cache(tmp_path) -> AssetCache:
    return AssetCache(tmp_path / "cache")


# Hits and misses


def test_lookup_returns_stored_files(cache, tmp_path):
    source = tmp_path / "gltf"
    write_file(source, "scene.gltf", b'{"asset": {"version": "2.0"}}')
    write_file(source, "textures/diffuse.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    cache.store(make_key(), source, main_file="scene.gltf")

    entry = cache.lookup(make_key())
    assert entry is not None
    assert entry.main_file.read_bytes() == b'{"asset": {"version": "2.0"}}'
    assert (entry.folder / "textures" / "diffuse.png").is_file()
    assert [item.path for item in entry.files] == ["scene.gltf", "textures/diffuse.png"]
    assert not source.exists()


def test_store_of_single_file_makes_it_main_file(cache, tmp_path):
    source = write_file(tmp_path, "Fox.glb", b"glTF" + b"\x00" * 60)
    entry = cache.store(make_key(), source)
    assert entry.main_file.name == "Fox.glb"
    assert cache.lookup(make_key()).main_file.read_bytes() == b"glTF" + b"\x00" * 60


def test_lookup_misses_unknown_key(cache):
    assert cache.lookup(make_key("unknown")) is None


def test_lookup_misses_other_version(cache):
    store_bytes(cache, make_key(version="v1"), b"first")
    assert cache.lookup(make_key(version="v2")) is None


def test_lookup_misses_other_variant(cache):
    store_bytes(cache, make_key(variant="glb"), b"first")
    assert cache.lookup(make_key(variant="gltf-1k")) is None


def test_credential_fingerprint_separates_users(cache):
    alice = credential_fingerprint(Secret("alice-token-1234"))
    bob = credential_fingerprint(Secret("bob-token-5678"))
    store_bytes(cache, make_key(credential=alice), b"alice's purchase")

    assert cache.lookup(make_key(credential=bob)) is None
    assert cache.lookup(make_key(credential="")) is None
    assert cache.lookup(make_key(credential=alice)) is not None


def test_index_never_holds_the_credential(cache):
    store_bytes(
        cache,
        make_key(credential=credential_fingerprint(Secret("alice-token-1234"))),
        b"data",
    )
    assert b"alice-token-1234" not in cache.index_path.read_bytes()


def test_local_file_version_changes_with_the_file(tmp_path):
    path = write_file(tmp_path, "chair.obj", b"v 0 0 0\n")
    before = local_file_version(path)
    path.write_bytes(b"v 0 0 0\nv 1 1 1\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert local_file_version(path) != before


def test_store_keeps_existing_sound_entry(cache):
    first = store_bytes(cache, make_key(), b"first download")
    second = store_bytes(cache, make_key(), b"second download")
    assert second.folder == first.folder
    assert cache.lookup(make_key()).main_file.read_bytes() == b"first download"
    assert cache.size() == len(b"first download")


def test_entry_folders_use_short_names(cache):
    entry = store_bytes(cache, make_key("x" * 300, version="y" * 300), b"data")
    relative = entry.folder.relative_to(cache.root)
    assert len(str(relative)) == len("files/") + 16


# Size, clear and eviction


def test_size_sums_every_entry(cache):
    store_bytes(cache, make_key("a"), b"a" * 1000)
    store_bytes(cache, make_key("b"), b"b" * 2500)
    assert cache.size() == 3500


def test_clear_removes_every_entry(cache):
    first = store_bytes(cache, make_key("a"), b"a" * 1000)
    store_bytes(cache, make_key("b"), b"b" * 2500)
    cache.clear()
    assert cache.size() == 0
    assert cache.lookup(make_key("a")) is None
    assert not first.folder.exists()
    assert os.listdir(cache.root / "tmp") == []


def test_eviction_removes_least_recently_used(tmp_path):
    cache = AssetCache(tmp_path / "cache", max_bytes=30 * KIB)
    for name in ("a", "b", "c"):
        store_bytes(cache, make_key(name), name.encode() * (10 * KIB))
    assert cache.lookup(make_key("a")) is not None  # "b" is now the least recently used

    store_bytes(cache, make_key("d"), b"d" * (10 * KIB))

    assert cache.lookup(make_key("b")) is None
    assert cache.lookup(make_key("a")) is not None
    assert cache.lookup(make_key("c")) is not None
    assert cache.lookup(make_key("d")) is not None
    assert cache.size() == 30 * KIB


def test_eviction_removes_as_many_entries_as_needed(tmp_path):
    cache = AssetCache(tmp_path / "cache", max_bytes=30 * KIB)
    for name in ("a", "b", "c"):
        store_bytes(cache, make_key(name), name.encode() * (10 * KIB))
    store_bytes(cache, make_key("big"), b"x" * (25 * KIB))
    assert cache.lookup(make_key("a")) is None
    assert cache.lookup(make_key("b")) is None
    assert cache.lookup(make_key("c")) is None
    assert cache.size() == 25 * KIB
    assert sorted(os.listdir(cache.root / "files")) == [make_key("big").digest()]


def test_entry_larger_than_cap_is_kept(tmp_path):
    cache = AssetCache(tmp_path / "cache", max_bytes=10 * KIB)
    store_bytes(cache, make_key("a"), b"a" * KIB)
    entry = store_bytes(cache, make_key("huge"), b"h" * (20 * KIB))
    assert cache.lookup(make_key("a")) is None
    assert entry.main_file.stat().st_size == 20 * KIB
    assert cache.lookup(make_key("huge")) is not None


# Damaged entries


def test_lookup_deletes_changed_entry(cache):
    entry = store_bytes(cache, make_key(), b"glTF" + b"\x01" * 500)
    data = bytearray(entry.main_file.read_bytes())
    data[100] ^= 0xFF
    entry.main_file.write_bytes(bytes(data))

    assert cache.lookup(make_key()) is None
    assert not entry.folder.exists()
    assert cache.size() == 0


def test_truncated_file_makes_a_miss(cache):
    entry = store_bytes(cache, make_key(), b"glTF" + b"\x01" * 500)
    entry.main_file.write_bytes(b"glTF")
    assert cache.lookup(make_key(), verify_md5=False) is None
    assert not entry.folder.exists()


def test_missing_file_makes_a_miss(cache, tmp_path):
    source = tmp_path / "gltf"
    write_file(source, "scene.gltf", b"{}")
    write_file(source, "scene.bin", b"\x00" * 64)
    entry = cache.store(make_key(), source, main_file="scene.gltf")
    (entry.folder / "scene.bin").unlink()
    assert cache.lookup(make_key()) is None
    assert cache.size() == 0


def test_given_md5_is_recorded_and_checked(cache, tmp_path):
    source = write_file(tmp_path, "model.glb", b"glTF" + b"\x02" * 100)
    wrong = hashlib.md5(b"other bytes", usedforsecurity=False).hexdigest()
    cache.store(make_key(), source, md5s={"model.glb": wrong})
    assert cache.lookup(make_key()) is None


def test_fetch_downloads_only_on_miss(cache):
    calls = []

    def download(folder: Path) -> str:
        calls.append(folder)
        write_file(folder, "model.glb", b"glTF" + b"\x03" * 100)
        return "model.glb"

    first = cache.fetch(make_key(), download)
    second = cache.fetch(make_key(), download)
    assert len(calls) == 1
    assert second.main_file == first.main_file


def test_failed_fetch_leaves_no_entry_or_staging(cache):
    def download(folder: Path) -> str:
        write_file(folder, "model.glb.part", b"half")
        raise RuntimeError("transfer failed")

    with pytest.raises(RuntimeError):
        cache.fetch(make_key(), download)
    assert cache.lookup(make_key()) is None
    assert os.listdir(cache.root / "tmp") == []


def test_damaged_entry_is_downloaded_again(cache, tmp_path, make_settings):
    body = (
        b"glTF"
        + (2).to_bytes(4, "little")
        + (4000).to_bytes(4, "little")
        + b"\x05" * 3988
    )
    runner = JobRunner(max_workers=1)
    with FileServer() as files:
        url = files.add_file("/model.glb", body)
        settings = make_settings({"sketchfab": files.url})
        http = PlatformHttp(
            settings.platform("sketchfab"), settings, label="Test platform"
        )

        def fetch():
            def download(folder: Path) -> str:
                def work(context):
                    return download_file(
                        http,
                        url,
                        folder / "model.glb",
                        context,
                        check=FileCheck(size=len(body)),
                    )

                job = runner.wait(runner.submit("download", work), timeout=30)
                assert job.state == "done"
                return "model.glb"

            return cache.fetch(make_key(), download)

        entry = fetch()
        entry.main_file.write_bytes(b"glTF" + b"\x00" * (len(body) - 4))
        again = fetch()
        http.close()
    runner.shutdown()
    assert len(files.requests_seen) == 2
    assert again.main_file.read_bytes() == body


# Threads and processes


def test_threads_share_the_cache(tmp_path):
    cache = AssetCache(tmp_path / "cache", max_bytes=40 * KIB)
    errors = []

    def work(worker: int) -> None:
        try:
            for round_number in range(15):
                key = make_key(f"asset{(worker + round_number) % 6}")
                entry = cache.lookup(key)
                if entry is None:
                    store_bytes(cache, key, key.asset_id.encode() * KIB)
        except Exception as error:  # noqa: BLE001 - collected for the main thread's assert
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert cache.size() <= 40 * KIB
    for n in range(6):
        entry = cache.lookup(make_key(f"asset{n}"))
        if entry is not None:
            assert entry.main_file.read_bytes() == f"asset{n}".encode() * KIB


CHILD_SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys
    from pathlib import Path

    repo, root = Path(sys.argv[1]), Path(sys.argv[2])
    spec = importlib.util.spec_from_file_location(
        "meshport", repo / "__init__.py", submodule_search_locations=[str(repo)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["meshport"] = module
    spec.loader.exec_module(module)
    from meshport.core.asset_cache import AssetCache, CacheKey

    cache = AssetCache(root, max_bytes=200 * 1024)
    for n in range(40):
        key = CacheKey("polyhaven", f"shared{n % 5}", "hash1")
        if cache.lookup(key) is None:
            with cache.staging() as folder:
                (folder / "model.gltf").write_bytes(key.asset_id.encode() * 2048)
                cache.store(key, folder, main_file="model.gltf")
        own = CacheKey("polyhaven", f"child{n}", "hash1")
        with cache.staging() as folder:
            (folder / "model.gltf").write_bytes(b"c" * 2048)
            cache.store(own, folder, main_file="model.gltf")
    print("child done")
    """
)


def test_two_processes_share_the_cache(tmp_path):
    root = tmp_path / "cache"
    AssetCache(root)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, str(REPO_ROOT), str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cache = AssetCache(root, max_bytes=200 * KIB)
    for n in range(40):
        key = CacheKey("polyhaven", f"shared{n % 5}", "hash1")
        if cache.lookup(key) is None:
            store_bytes(cache, key, key.asset_id.encode() * 2048, name="model.gltf")
        store_bytes(cache, CacheKey("polyhaven", f"parent{n}", "hash1"), b"p" * 2 * KIB)
    stdout, stderr = child.communicate(timeout=120)

    assert child.returncode == 0, stderr
    assert stdout.strip() == "child done"
    assert cache.size() <= 200 * KIB
    for n in range(5):
        entry = cache.lookup(CacheKey("polyhaven", f"shared{n}", "hash1"))
        assert entry is not None
        assert entry.main_file.read_bytes() == f"shared{n}".encode() * 2048
    folders = set(os.listdir(root / "files"))
    assert len(folders) == count_entries(cache)


def count_entries(cache: AssetCache) -> int:
    import sqlite3

    with sqlite3.connect(cache.index_path) as db:
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
