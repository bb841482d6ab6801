"""Archive extraction: hostile zips and tars, odd names, caps, glTF URI rewriting."""

from __future__ import annotations

import io
import os
import stat
import unicodedata
import zipfile
from pathlib import Path

import pytest
from fakes.hostile import (
    TAR_BLOCK_DEVICE,
    TAR_CHAR_DEVICE,
    TAR_DIRECTORY,
    TAR_FIFO,
    TAR_HARD_LINK,
    TAR_SYMLINK,
    ZIP_DEFLATED,
    TarMember,
    ZipMember,
    gltf_bytes,
    gltf_document,
    unicode_path_extra,
    write_tar,
    write_zip,
    zip_bytes,
)
from meshport.core.archives import (
    MAX_PATH,
    NAME_MAX_BYTES,
    WINDOWS_RESERVED,
    ArchiveLimits,
    extract_archive,
    extract_tar,
    extract_zip,
    find_model_file,
    plan_paths,
    windows_safe_name,
)
from meshport.core.errors import UnsafeArchiveError, UnsupportedFileError
from meshport.core.inspect import inspect_gltf

HOSTILE_NAMES = [
    "../evil.txt",
    "models/../../evil.txt",
    "..\\evil.txt",
    "/etc/evil.txt",
    "\\\\server\\share\\evil.txt",
    "C:/Windows/evil.txt",
    "C:evil.txt",
    "d:\\evil.txt",
]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def relative_files(folder: Path) -> list[str]:
    return sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()
    )


# ---------------------------------------------------------------- plain extraction


def test_zip_of_real_gltf_extracts_every_file(work, sample_assets):
    fox = sample_assets / "gltf" / "Fox"
    archive = write_zip(
        work / "fox.zip",
        [
            ZipMember("scene.gltf", (fox / "Fox.gltf").read_bytes(), method=ZIP_DEFLATED),
            ZipMember("Fox.bin", (fox / "Fox.bin").read_bytes(), method=ZIP_DEFLATED),
            ZipMember("Texture.png", (fox / "Texture.png").read_bytes()),
        ],
    )

    written = extract_zip(archive, work / "fox")

    assert sorted(path.name for path in written) == ["Fox.bin", "Texture.png", "scene.gltf"]
    assert (work / "fox" / "Fox.bin").read_bytes() == (fox / "Fox.bin").read_bytes()
    assert find_model_file(work / "fox") == work / "fox" / "scene.gltf"
    assert listing(work) == ["fox", "fox.zip"] + [
        f"fox/{name}" for name in ("Fox.bin", "Texture.png", "scene.gltf")
    ]


def test_extract_archive_chooses_by_magic_bytes(work):
    members = [TarMember("box/readme.txt", b"hello")]
    gzipped = write_tar(work / "pack.bin", members, gzip_level=6)
    plain = write_tar(work / "plain.bin", members)
    zipped = write_zip(work / "zip.bin", [ZipMember("box/readme.txt", b"hello")])

    for archive in (gzipped, plain, zipped):
        target = work / f"{archive.stem}-out"
        extract_archive(archive, target)
        assert (target / "box" / "readme.txt").read_bytes() == b"hello"


def test_extract_archive_rejects_html_page(work):
    page = work / "model.zip"
    page.write_bytes(b"<!DOCTYPE html><html><body>Sign in</body></html>")

    with pytest.raises(UnsupportedFileError, match="not a zip or tar archive"):
        extract_archive(page, work / "out")
    assert not (work / "out").exists()


def test_tar_with_dot_folder_entry_extracts(work):
    archive = write_tar(
        work / "dot.tar.gz",
        [TarMember("./", kind=TAR_DIRECTORY, mode=0o755), TarMember("./model.obj", b"v 0 0 0\n")],
        gzip_level=6,
    )

    extract_tar(archive, work / "out")

    assert relative_files(work / "out") == ["model.obj"]


def test_extraction_into_existing_folder_raises(work):
    archive = write_zip(work / "a.zip", [ZipMember("a.txt", b"a")])
    (work / "out").mkdir()

    with pytest.raises(FileExistsError):
        extract_zip(archive, work / "out")


# ---------------------------------------------------------------- rejected entries


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_zip_with_escaping_name_writes_nothing(work, name):
    archive = write_zip(work / "evil.zip", [ZipMember("fine.txt", b"ok"), ZipMember(name, b"x")])

    with pytest.raises(UnsafeArchiveError):
        extract_zip(archive, work / "out")
    assert listing(work) == ["evil.zip"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_tar_with_escaping_name_writes_nothing(work, name):
    archive = write_tar(
        work / "evil.tar.gz", [TarMember("fine.txt", b"ok"), TarMember(name, b"x")], gzip_level=6
    )

    with pytest.raises(UnsafeArchiveError):
        extract_tar(archive, work / "out")
    assert listing(work) == ["evil.tar.gz"]


@pytest.mark.parametrize(
    ("kind", "linkname", "reason"),
    [
        (TAR_SYMLINK, "/etc/passwd", "symbolic link"),
        (TAR_SYMLINK, "../../outside", "symbolic link"),
        (TAR_HARD_LINK, "fine.txt", "hard link"),
        (TAR_CHAR_DEVICE, "", "device file or FIFO"),
        (TAR_BLOCK_DEVICE, "", "device file or FIFO"),
        (TAR_FIFO, "", "device file or FIFO"),
    ],
)
def test_tar_with_link_or_device_writes_nothing(work, kind, linkname, reason):
    archive = write_tar(
        work / "evil.tar",
        [
            TarMember("fine.txt", b"ok"),
            TarMember("textures/wood.png", kind=kind, linkname=linkname),
        ],
    )

    with pytest.raises(UnsafeArchiveError, match=reason):
        extract_tar(archive, work / "out")
    assert listing(work) == ["evil.tar"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (stat.S_IFLNK | 0o777, "symbolic link"),
        (stat.S_IFCHR | 0o644, "device file"),
        (stat.S_IFIFO | 0o644, "FIFO"),
    ],
)
def test_zip_with_link_or_device_writes_nothing(work, mode, reason):
    archive = write_zip(
        work / "evil.zip",
        [ZipMember("fine.txt", b"ok"), ZipMember("scene.bin", b"/etc/passwd", mode=mode)],
    )

    with pytest.raises(UnsafeArchiveError, match=reason):
        extract_zip(archive, work / "out")
    assert listing(work) == ["evil.zip"]


def test_zip_with_regular_unix_mode_extracts(work):
    archive = write_zip(work / "ok.zip", [ZipMember("a.txt", b"ok", mode=stat.S_IFREG | 0o755)])

    extract_zip(archive, work / "out")

    assert (work / "out" / "a.txt").read_bytes() == b"ok"


def test_zip_encrypted_entry_is_unsupported(work):
    archive = write_zip(work / "locked.zip", [ZipMember("a.txt", b"xxxx", flags=0x1)])

    with pytest.raises(UnsupportedFileError, match="password-protected"):
        extract_zip(archive, work / "out")
    assert listing(work) == ["locked.zip"]


def test_zip_deflate64_entry_is_unsupported(work):
    archive = write_zip(work / "d64.zip", [ZipMember("a.txt", b"xxxx", method=9)])

    with pytest.raises(UnsupportedFileError, match="Deflate64"):
        extract_zip(archive, work / "out")


def test_zip_entry_longer_than_declared_writes_nothing(work):
    archive = write_zip(work / "lie.zip", [ZipMember("a.bin", b"A" * 5000, declared_size=100)])

    with pytest.raises(UnsafeArchiveError):
        extract_zip(archive, work / "out")
    assert listing(work) == ["lie.zip"]


def test_truncated_zip_writes_nothing(work):
    whole = write_zip(
        work / "whole.zip", [ZipMember("a.bin", os.urandom(4000), method=ZIP_DEFLATED)]
    )
    cut = work / "cut.zip"
    cut.write_bytes(whole.read_bytes()[:-40])

    with pytest.raises(UnsafeArchiveError, match="not a valid zip"):
        extract_zip(cut, work / "out")
    assert listing(work) == ["cut.zip", "whole.zip"]


def test_truncated_tar_gz_writes_nothing(work):
    whole = write_tar(work / "whole.tgz", [TarMember("a.bin", os.urandom(40_000))], gzip_level=6)
    cut = work / "cut.tgz"
    cut.write_bytes(whole.read_bytes()[:20_000])

    with pytest.raises(UnsafeArchiveError, match="not a valid tar"):
        extract_tar(cut, work / "out")
    assert listing(work) == ["cut.tgz", "whole.tgz"]


# ---------------------------------------------------------------- bombs and caps


def test_zip_bomb_by_ratio_writes_nothing(work):
    zeros = bytes(24 * 1024 * 1024)
    archive = write_zip(work / "bomb.zip", [ZipMember("scene.bin", zeros, method=ZIP_DEFLATED)])

    with pytest.raises(UnsafeArchiveError, match="compression-ratio"):
        extract_zip(archive, work / "out")
    assert listing(work) == ["bomb.zip"]


def test_many_entries_hit_total_ratio(work):
    half_mebibyte = bytes(512 * 1024)
    members = [ZipMember(f"part{i}.bin", half_mebibyte, method=ZIP_DEFLATED) for i in range(40)]
    archive = write_zip(work / "bomb.zip", members)

    with pytest.raises(UnsafeArchiveError, match="compression-ratio"):
        extract_zip(archive, work / "out")
    assert listing(work) == ["bomb.zip"]


def test_tar_gz_bomb_by_ratio_writes_nothing(work):
    archive = write_tar(
        work / "bomb.tgz", [TarMember("scene.bin", bytes(24 * 1024 * 1024))], gzip_level=9
    )

    with pytest.raises(UnsafeArchiveError, match="compression-ratio"):
        extract_tar(archive, work / "out")
    assert listing(work) == ["bomb.tgz"]


def test_zip_over_total_size_writes_nothing(work):
    members = [ZipMember(f"tex{i}.png", os.urandom(600)) for i in range(2)]
    archive = write_zip(work / "big.zip", members)

    with pytest.raises(UnsafeArchiveError, match="more than 1000 bytes"):
        extract_zip(archive, work / "out", max_unpacked=1000)
    assert listing(work) == ["big.zip"]


def test_tar_over_total_size_writes_nothing(work):
    members = [TarMember(f"tex{i}.png", os.urandom(600)) for i in range(2)]
    archive = write_tar(work / "big.tar", members)

    with pytest.raises(UnsafeArchiveError, match="more than 1000 bytes"):
        extract_tar(archive, work / "out", limits=ArchiveLimits(max_unpacked=1000))
    assert listing(work) == ["big.tar"]


def test_tar_declaring_huge_member_is_rejected_before_reading(work):
    archive = write_tar(work / "liar.tar", [TarMember("a.bin", b"x" * 10, declared_size=2**40)])

    with pytest.raises(UnsafeArchiveError):
        extract_tar(archive, work / "out")
    assert listing(work) == ["liar.tar"]


def test_entry_count_over_limit_is_rejected(work):
    archive = write_zip(work / "many.zip", [ZipMember(f"{i}.txt", b"") for i in range(11)])

    with pytest.raises(UnsafeArchiveError, match="entries"):
        extract_zip(archive, work / "out", limits=ArchiveLimits(max_entries=10))


# ---------------------------------------------------------------- names


def test_zip_name_without_utf8_flag_decodes_as_cp437(work):
    archive = write_zip(work / "old.zip", [ZipMember(b"textures/caf\x82 \x94.png", b"png")])

    extract_zip(archive, work / "out")

    assert relative_files(work / "out") == ["textures/café ö.png"]


def test_zip_entry_with_empty_name_is_rejected(work):
    archive = write_zip(work / "blank.zip", [ZipMember(b"", b"data")])

    with pytest.raises(UnsafeArchiveError, match="empty name"):
        extract_zip(archive, work / "out")
    assert listing(work) == ["blank.zip"]


def test_unflagged_utf8_zip_name_decodes(work):
    name = "mödel/tëx ñ.png".encode()
    archive = write_zip(work / "unflagged.zip", [ZipMember(name, b"png")])

    extract_zip(archive, work / "out")

    assert relative_files(work / "out") == ["mödel/tëx ñ.png"]


def test_zip_name_with_utf8_flag_is_kept(work):
    archive = write_zip(work / "new.zip", [ZipMember("テクスチャ/木.png", b"png")])

    extract_zip(archive, work / "out")

    assert relative_files(work / "out") == ["テクスチャ/木.png"]


def test_zip_unicode_path_field_overrides_cp437_name(work):
    stored = b"Ki?.png"
    archive = write_zip(
        work / "info.zip", [ZipMember(stored, b"png", extra=unicode_path_extra(stored, "木.png"))]
    )

    extract_zip(archive, work / "out")

    assert relative_files(work / "out") == ["木.png"]


def test_nfd_names_are_written_as_nfc(work):
    decomposed = unicodedata.normalize("NFD", "Café/Crème.png")
    archive = write_zip(work / "mac.zip", [ZipMember(decomposed, b"png")])

    extract_zip(archive, work / "out")

    names = relative_files(work / "out")
    assert names == [unicodedata.normalize("NFC", "Café/Crème.png")]
    assert all(unicodedata.is_normalized("NFC", name) for name in names)


def test_nfd_and_nfc_twins_both_survive(work):
    composed = unicodedata.normalize("NFC", "é.png")
    decomposed = unicodedata.normalize("NFD", "é.png")
    archive = write_zip(
        work / "twins.zip", [ZipMember(composed, b"one"), ZipMember(decomposed, b"two")]
    )

    written = extract_zip(archive, work / "out")

    assert len(written) == 2
    assert sorted(path.read_bytes() for path in written) == [b"one", b"two"]


def test_names_differing_in_case_both_survive(work):
    archive = write_zip(
        work / "case.zip", [ZipMember("Tex.png", b"upper"), ZipMember("tex.png", b"lower")]
    )

    written = extract_zip(archive, work / "out")

    assert len({path.name.casefold() for path in written}) == 2
    assert sorted(path.read_bytes() for path in written) == [b"lower", b"upper"]


def test_file_and_folder_of_same_name_both_survive(work):
    archive = write_tar(
        work / "clash.tar", [TarMember("a", b"file"), TarMember("a/b.txt", b"inner")]
    )

    written = extract_tar(archive, work / "out")

    assert (work / "out" / "a" / "b.txt").read_bytes() == b"inner"
    assert sorted(path.read_bytes() for path in written) == [b"file", b"inner"]


def test_duplicate_entries_do_not_overwrite(work):
    copies = [b"first", b"second", b"third", b"fourth"]
    archive = write_zip(work / "dup.zip", [ZipMember("a.txt", data) for data in copies])

    written = extract_zip(archive, work / "out")

    assert sorted(path.read_bytes() for path in written) == sorted(copies)
    assert len({path.name for path in written}) == 4


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CON", "CON_"),
        ("con.txt", "con_.txt"),
        ("Aux.tar.gz", "Aux_.tar.gz"),
        ("NUL", "NUL_"),
        ("COM1.png", "COM1_.png"),
        ("lpt9", "lpt9_"),
        ("COM\u00b9.png", "COM\u00b9_.png"),
        ("CON .png", "CON _.png"),
        ("COMPUTER.png", "COMPUTER.png"),
        ("CONSOLE", "CONSOLE"),
        ('a<b>c:d"e|f?g*h.png', "a_b_c_d_e_f_g_h.png"),
        ("name. . ", "name"),
        ("...", "_"),
        ("tab\there.png", "tab_here.png"),
        ("plain.png", "plain.png"),
    ],
)
def test_windows_safe_name(name, expected):
    assert windows_safe_name(name) == expected


@pytest.mark.parametrize("reserved", sorted(WINDOWS_RESERVED))
def test_every_reserved_name_is_renamed(reserved):
    assert windows_safe_name(f"{reserved}.png").split(".")[0].upper() not in WINDOWS_RESERVED


def test_gltf_uris_follow_renamed_windows_names(work):
    document = gltf_document(
        ["CON.bin"], ["textures/aux.png", "tex%3A1.png", "maps/bump%3F.png", "trail.png."]
    )
    archive = write_zip(
        work / "win.zip",
        [
            ZipMember("model/scene.gltf", gltf_bytes(document)),
            ZipMember("model/CON.bin", b"\x00" * 4),
            ZipMember("model/textures/aux.png", b"png"),
            ZipMember("model/tex:1.png", b"png"),
            ZipMember("model/maps/bump?.png", b"png"),
            ZipMember("model/trail.png.", b"png"),
        ],
    )

    extract_zip(archive, work / "out")

    assert relative_files(work / "out") == [
        "model/CON_.bin",
        "model/maps/bump_.png",
        "model/scene.gltf",
        "model/tex_1.png",
        "model/textures/aux_.png",
        "model/trail.png",
    ]
    report = inspect_gltf(work / "out" / "model" / "scene.gltf", set())
    assert report.warnings == ()
    assert sorted(path.name for path in report.resources) == [
        "CON_.bin", "aux_.png", "bump_.png", "tex_1.png", "trail.png"
    ]  # fmt: skip


def test_gltf_uris_in_nfd_follow_nfc_files(work):
    decomposed = unicodedata.normalize("NFD", "Crème.png")
    document = gltf_document(["scene.bin"], [decomposed])
    archive = write_zip(
        work / "nfd.zip",
        [
            ZipMember("scene.gltf", gltf_bytes(document)),
            ZipMember("scene.bin", b"\x00" * 4),
            ZipMember(decomposed, b"png"),
        ],
    )

    extract_zip(archive, work / "out")

    report = inspect_gltf(work / "out" / "scene.gltf", set())
    assert report.warnings == ()
    assert [path.name for path in report.resources][1] == unicodedata.normalize("NFC", "Crème.png")


def test_gltf_without_renames_is_left_byte_identical(work, sample_assets):
    original = (sample_assets / "gltf" / "Fox" / "Fox.gltf").read_bytes()
    archive = write_zip(
        work / "fox.zip",
        [
            ZipMember("Fox.gltf", original),
            ZipMember("Fox.bin", (sample_assets / "gltf" / "Fox" / "Fox.bin").read_bytes()),
            ZipMember("Texture.png", b"png"),
        ],
    )

    extract_zip(archive, work / "out")

    assert (work / "out" / "Fox.gltf").read_bytes() == original


# ---------------------------------------------------------------- long paths


def long_name_members(prefix: str) -> list[ZipMember]:
    folder = "f" * 120 + "/" + "g" * 120
    texture = "t" * 200 + ".png"
    document = gltf_document([f"{'b' * 150}.bin"], [f"{folder}/{texture}"])
    return [
        ZipMember(f"{prefix}scene.gltf", gltf_bytes(document)),
        ZipMember(f"{prefix}{'b' * 150}.bin", b"\x00" * 4),
        ZipMember(f"{prefix}{folder}/{texture}", b"png"),
        ZipMember(f"{prefix}{folder}/{'u' * 200}.png", b"other"),
    ]


def test_long_names_stay_under_windows_max_path(work):
    archive = write_zip(work / "long.zip", long_name_members(""))

    written = extract_zip(archive, work / "out")

    assert len(written) == 4
    for path in written:
        assert len(str(path)) <= MAX_PATH
        assert all(len(part.encode()) <= NAME_MAX_BYTES for part in path.parts)
    report = inspect_gltf(work / "out" / "scene.gltf", set())
    assert report.warnings == ()
    assert len(report.resources) == 2


def test_long_names_shorten_the_same_way_each_time(work):
    archive = write_zip(work / "long.zip", long_name_members(""))

    extract_zip(archive, work / "one")
    extract_zip(archive, work / "two")

    assert relative_files(work / "one") == relative_files(work / "two")


def test_long_names_keep_their_suffix(work):
    archive = write_zip(work / "long.zip", long_name_members(""))

    extract_zip(archive, work / "out")

    suffixes = sorted(Path(name).suffix for name in relative_files(work / "out"))
    assert suffixes == [".bin", ".gltf", ".png", ".png"]


def test_too_deep_archive_is_rejected(work):
    deep = "/".join([f"folder{i:03d}" for i in range(60)]) + "/model.obj"
    archive = write_zip(work / "deep.zip", [ZipMember(deep, b"v 0 0 0\n")])

    with pytest.raises(UnsafeArchiveError, match="nested too deep"):
        extract_zip(archive, work / "out")
    assert listing(work) == ["deep.zip"]


def test_plan_paths_counts_the_root_length(tmp_path):
    names = ["x" * 150 + ".png"]
    short_root = plan_paths(names, tmp_path / "r", label="test")
    long_root = plan_paths(names, tmp_path / ("r" * 120), label="test")

    assert short_root[0].name == names[0]
    assert long_root[0].name != names[0]
    assert len(str(tmp_path / ("r" * 120) / long_root[0])) <= MAX_PATH


# ---------------------------------------------------------------- model search


def test_find_model_file_skips_macos_resource_forks(tmp_path):
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "scene.gltf").write_text("{}")
    (tmp_path / "._scene.gltf").write_text("{}")
    (tmp_path / "scene.gltf").write_text("{}")

    assert find_model_file(tmp_path) == tmp_path / "scene.gltf"


def test_find_model_file_prefers_format_order(tmp_path):
    (tmp_path / "model.fbx").write_bytes(b"fbx")
    (tmp_path / "model.glb").write_bytes(b"glb")

    assert find_model_file(tmp_path, preferred=("fbx", "glb")).name == "model.fbx"


def test_find_model_file_with_two_models_raises(tmp_path):
    (tmp_path / "a.glb").write_bytes(b"glb")
    (tmp_path / "b.glb").write_bytes(b"glb")

    with pytest.raises(UnsupportedFileError, match="holds 2 GLB models"):
        find_model_file(tmp_path)


def test_find_model_file_without_models_raises(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")

    with pytest.raises(UnsupportedFileError, match="no GLB, glTF, FBX or OBJ"):
        find_model_file(tmp_path)


def test_builder_zip_matches_zipfile_reading():
    # Guards the byte-level builder itself: Python's reader must see what was written.
    text = b"hello" * 50
    bundle = zipfile.ZipFile(io.BytesIO(zip_bytes([ZipMember("a.txt", text, method=ZIP_DEFLATED)])))

    assert bundle.read("a.txt") == text
    assert bundle.testzip() is None
