"""Safe extraction of zip and tar archives, and finding the model file inside.

Every entry name is untrusted. Extraction rejects absolute paths, ``..``, links,
device files, FIFOs, encrypted entries and archives over the size or compression-ratio
caps, before it writes a byte. Names are normalised to NFC and made storable on
Windows (see ``archive_names.plan_paths``), and glTF files are rewritten to name
their renamed buffers and images. Files are written into a staging folder beside the
destination that is renamed into place at the end, so a rejected or failed archive
leaves nothing.
"""

from __future__ import annotations

import gzip
import logging
import posixpath
import shutil
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .archive_names import (
    MAX_PATH,
    NAME_MAX_BYTES,
    WINDOWS_RESERVED,
    logical_parts,
    plan_paths,
    windows_safe_name,
)
from .errors import UnsafeArchiveError, UnsupportedFileError
from .formats import COMPRESSED_TAR_KINDS, MODEL_SUFFIXES, describe_head, detect_kind
from .inspect import rewrite_gltf_uris

log = logging.getLogger(__name__)

MAX_UNPACKED_BYTES = 4 * 2**30
MAX_ENTRIES = 100_000
# Deflate tops out near 1032:1 (zlib's "Technical Details" page), so a bomb needs ratios
# far above 200:1 to pay off. The cap applies to each entry and to the whole archive,
# which also catches entries that share compressed data.
# NOTE: 200 is a judgement; real model archives were not surveyed to set it.
MAX_COMPRESSION_RATIO = 200
RATIO_FLOOR_BYTES = 1024 * 1024  # small entries may compress far better than large ones
STAGING_SUFFIX = ".extracting"
COPY_CHUNK = 1024 * 1024
MAX_LOGGED_RENAMES = 20
MAX_LISTED_MODELS = 5  # model files named in the message about several models
FORMAT_NAMES = {"glb": "GLB", "gltf": "glTF", "fbx": "FBX", "obj": "OBJ"}

UNICODE_PATH_EXTRA_ID = 0x7075  # Info-ZIP Unicode Path extra field
UTF8_NAME_FLAG = 0x800
ENCRYPTED_FLAG = 0x1
ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
# Methods other zip tools write that Python's zipfile cannot read (APPNOTE 4.4.5).
ZIP_METHOD_NAMES = {9: "Deflate64", 93: "Zstandard", 95: "xz", 98: "PPMd"}


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps applied to one archive before anything is written."""

    max_unpacked: int = MAX_UNPACKED_BYTES
    max_ratio: float = MAX_COMPRESSION_RATIO
    max_entries: int = MAX_ENTRIES
    max_path: int = MAX_PATH


DEFAULT_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class _Entry:
    name: str  # the decoded name as stored in the archive
    size: int
    key: int  # how the reader finds the entry again: ZipInfo index or tar file order


def extract_archive(
    archive: Path, destination: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS
) -> list[Path]:
    """Extract a zip or tar archive (plain, gzip, bzip2 or xz), chosen by its first bytes."""
    kind = detect_kind(archive)
    if kind == "zip":
        return extract_zip(archive, destination, limits=limits)
    if kind == "tar" or kind in COMPRESSED_TAR_KINDS:
        return extract_tar(archive, destination, limits=limits)
    with open(archive, "rb") as handle:
        head = handle.read(16)
    raise UnsupportedFileError(
        f"{archive.name}: not a zip or tar archive (it starts with {describe_head(head)}). "
        "Download it again, or unpack it with another tool and import the model file."
    )


def extract_zip(
    archive: Path,
    destination: Path,
    *,
    max_unpacked: int = MAX_UNPACKED_BYTES,
    limits: ArchiveLimits | None = None,
) -> list[Path]:
    """Extract ``archive`` into ``destination``, which must not exist yet.

    Returns the extracted files. Raises ``UnsafeArchiveError`` for a hostile or
    damaged archive, and ``UnsupportedFileError`` for an encrypted entry or a
    compression method Python cannot read. Either way nothing is left behind.
    """
    limits = limits or ArchiveLimits(max_unpacked=max_unpacked)
    label = archive.name
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = _zip_entries(bundle, label, limits)
            _check_totals(archive, entries, limits)
            with staging_folder(destination) as staging:
                plan = plan_paths(
                    [entry.name for entry in entries],
                    staging,
                    label=label,
                    max_path=limits.max_path,
                )
                infos = bundle.infolist()
                for entry, target in zip(entries, plan):
                    with bundle.open(infos[entry.key]) as source:
                        copy_member(
                            source, staging / target, name=entry.name, size=entry.size, label=label
                        )
                written = _finish(staging, entries, plan, label)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise UnsafeArchiveError(
            f"{label}: not a valid zip archive, or it is damaged ({error}). Download it again."
        ) from error
    return [destination / path for path in written]


def extract_tar(
    archive: Path, destination: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS
) -> list[Path]:
    """Extract a tar archive (plain or compressed) into ``destination``, which must not
    exist yet. The same rules and caps as ``extract_zip`` apply; regular files and
    folders are the only entry types accepted."""
    label = archive.name
    try:
        entries = _tar_entries(archive, label, limits)
        with staging_folder(destination) as staging:
            plan = plan_paths(
                [entry.name for entry in entries], staging, label=label, max_path=limits.max_path
            )
            targets = {entry.key: (entry, target) for entry, target in zip(entries, plan)}
            for index, member, source in _iter_tar_files(archive):
                entry, target = targets[index]
                copy_member(source, staging / target, name=entry.name, size=entry.size, label=label)
            written = _finish(staging, entries, plan, label)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        if isinstance(error, OSError) and not _is_decoder_error(error):
            raise
        raise UnsafeArchiveError(
            f"{label}: not a valid tar archive, or it is damaged ({error}). Download it again."
        ) from error
    return [destination / path for path in written]


# ---------------------------------------------------------------- zip


def _zip_entries(bundle: zipfile.ZipFile, label: str, limits: ArchiveLimits) -> list[_Entry]:
    infos = bundle.infolist()
    if len(infos) > limits.max_entries:
        raise UnsafeArchiveError(
            f"{label}: contains {len(infos)} entries, over the limit of {limits.max_entries}."
        )
    entries = []
    for index, info in enumerate(infos):
        name = _zip_name(info)
        if not info.filename:
            raise UnsafeArchiveError(
                f"{label}: entry {index + 1} has an empty name, so nothing was extracted. "
                "The archive is damaged or was made to attack; do not use it."
            )
        is_folder = info.is_dir()
        logical_parts(name, label=label, folder=is_folder)
        _check_zip_entry(info, name, label, limits)
        if not is_folder:
            entries.append(_Entry(name, info.file_size, index))
    return entries


def _zip_name(info: zipfile.ZipInfo) -> str:
    """Return the entry name. Python's zipfile decodes names without the UTF-8 flag as
    cp437, as the zip specification (APPNOTE) requires. An Info-ZIP Unicode Path field
    overrides that name when its checksum matches the stored name. A name that is valid
    UTF-8 with non-ASCII characters is read as UTF-8, because some zip writers store
    UTF-8 without setting the flag, while cp437 text rarely forms valid UTF-8."""
    if info.flag_bits & UTF8_NAME_FLAG:
        return info.filename
    raw = info.orig_filename.encode("cp437", "replace")
    extra = info.extra
    offset = 0
    while offset + 4 <= len(extra):
        field_id, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        offset += 4 + size
        if field_id != UNICODE_PATH_EXTRA_ID or len(body) < 5 or body[0] != 1:
            continue
        if struct.unpack_from("<I", body, 1)[0] == zlib.crc32(raw):
            return body[5:].decode("utf-8", "replace")
    if not raw.isascii():
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return info.filename


def _check_zip_entry(info: zipfile.ZipInfo, name: str, label: str, limits: ArchiveLimits) -> None:
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' is a symbolic link, so nothing was extracted. "
            "Links could point outside the download folder; get the asset from another source."
        )
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' is a device file, FIFO or socket, so nothing was "
            "extracted."
        )
    if info.flag_bits & ENCRYPTED_FLAG:
        raise UnsupportedFileError(
            f"{label}: the entry '{name}' is password-protected. Unpack the archive with a "
            "tool that asks for the password, then import the model file."
        )
    if info.compress_type not in ZIP_METHODS:
        method = ZIP_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise UnsupportedFileError(
            f"{label}: the entry '{name}' is compressed with {method}, which Python's zip "
            "reader does not support. Unpack it with another tool, then import the model file."
        )
    compressed = max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * compressed:
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' expands from {info.compress_size} to "
            f"{info.file_size} bytes, over the compression-ratio limit of "
            f"{limits.max_ratio:g}:1, so nothing was extracted. Ratios this high are typical "
            "of zip bombs."
        )


# ---------------------------------------------------------------- tar


def _tar_entries(archive: Path, label: str, limits: ArchiveLimits) -> list[_Entry]:
    entries: list[_Entry] = []
    total = 0
    count = 0
    archive_size = archive.stat().st_size
    with tarfile.open(archive, "r|*", encoding="utf-8", errors="surrogateescape") as bundle:
        for member in bundle:
            count += 1
            if count > limits.max_entries:
                raise UnsafeArchiveError(
                    f"{label}: contains more than {limits.max_entries} entries, the limit."
                )
            logical_parts(member.name, label=label, folder=member.isdir())
            check_tar_member(member, label)
            if not member.isreg():
                continue
            total += member.size
            entries.append(_Entry(member.name, member.size, len(entries)))
            check_unpacked_total(label, total, archive_size, limits)
    return entries


def check_tar_member(member: tarfile.TarInfo, label: str) -> None:
    """Raise ``UnsafeArchiveError`` unless ``member`` is a regular file or a folder."""
    name = member.name
    if member.issym():
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' is a symbolic link (to '{member.linkname}'), so "
            "nothing was extracted. Links could point outside the download folder."
        )
    if member.islnk():
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' is a hard link (to '{member.linkname}'), so "
            "nothing was extracted. Links could point outside the download folder."
        )
    if member.ischr() or member.isblk() or member.isfifo():
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' is a device file or FIFO, so nothing was extracted."
        )
    if not (member.isreg() or member.isdir()):
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' has the unsupported tar type {member.type!r}, so "
            "nothing was extracted."
        )


def _iter_tar_files(archive: Path) -> Iterator[tuple[int, tarfile.TarInfo, BinaryIO]]:
    """Yield the regular files of a tar archive in order, with an open reader each."""
    index = 0
    with tarfile.open(archive, "r|*", encoding="utf-8", errors="surrogateescape") as bundle:
        for member in bundle:
            if not member.isreg():
                continue
            source = bundle.extractfile(member)
            yield index, member, source
            index += 1


def _is_decoder_error(error: OSError) -> bool:
    # gzip.BadGzipFile is an OSError; disk errors (no space, permission) are not ours.
    return isinstance(error, gzip.BadGzipFile)


# ---------------------------------------------------------------- shared steps


def _check_totals(archive: Path, entries: list[_Entry], limits: ArchiveLimits) -> None:
    total = sum(entry.size for entry in entries)
    check_unpacked_total(archive.name, total, archive.stat().st_size, limits)


def check_unpacked_total(label: str, total: int, archive_size: int, limits: ArchiveLimits) -> None:
    """Raise ``UnsafeArchiveError`` when ``total`` unpacked bytes exceed the size cap,
    or the compression-ratio cap for an archive of ``archive_size`` bytes."""
    if total > limits.max_unpacked:
        raise UnsafeArchiveError(
            f"{label}: unpacks to more than {limits.max_unpacked} bytes (the limit), so "
            "nothing was extracted. Unpack it with another tool if you trust it."
        )
    if total > RATIO_FLOOR_BYTES and total > limits.max_ratio * max(archive_size, 1):
        raise UnsafeArchiveError(
            f"{label}: the archive's {archive_size} bytes unpack to at least {total} bytes, "
            f"over the compression-ratio limit of {limits.max_ratio:g}:1, so nothing was "
            "extracted. Ratios this high are typical of archive bombs."
        )


@contextmanager
def staging_folder(destination: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``destination`` and rename it to
    ``destination`` when the block succeeds; remove it when the block raises."""
    if destination.exists():
        raise FileExistsError(f"{destination} exists; extraction needs a new folder.")
    staging = destination.with_name(destination.name + STAGING_SUFFIX)
    shutil.rmtree(staging, ignore_errors=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        yield staging
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def copy_member(source: BinaryIO, target: Path, *, name: str, size: int, label: str) -> None:
    """Copy one archive member to ``target``, a new file, and raise
    ``UnsafeArchiveError`` when its data is longer or shorter than the ``size`` its
    header declares."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    # "xb" never replaces a file: plan_paths gives every entry its own path.
    with open(target, "xb") as sink:
        while chunk := source.read(COPY_CHUNK):
            written += len(chunk)
            if written > size:
                raise UnsafeArchiveError(
                    f"{label}: the entry '{name}' contains more data than the {size} bytes its "
                    "header declares, so nothing was extracted."
                )
            sink.write(chunk)
    if written != size:
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' ends after {written} of the {size} bytes its "
            "header declares. Download the archive again."
        )


def _finish(
    staging: Path, entries: list[_Entry], plan: list[PurePosixPath], label: str
) -> list[PurePosixPath]:
    """Log renamed entries and point glTF files at the new names of their files.

    Every .gltf file is checked, not only when an entry was renamed, because a URI
    in NFD form no longer matches its file once the name is normalised to NFC.
    """
    mapping: dict[str, PurePosixPath] = {}
    renamed = 0
    for entry, target in zip(entries, plan):
        logical = "/".join(logical_parts(entry.name, label=label))
        mapping.setdefault(logical, target)
        if entry.name.replace("\\", "/") == target.as_posix():
            continue
        renamed += 1
        if renamed <= MAX_LOGGED_RENAMES:
            log.info("archive=%s entry=%r written as %r", label, entry.name, target.as_posix())
    if renamed > MAX_LOGGED_RENAMES:
        log.info("archive=%s renamed %d entries in all", label, renamed)
    for logical, target in mapping.items():
        if target.suffix.lower() == ".gltf":
            rewrite_gltf_references(staging, logical, target, mapping)
    return plan


def rewrite_gltf_references(
    root: Path, logical: str, target: PurePosixPath, mapping: Mapping[str, PurePosixPath]
) -> None:
    """Point the URIs of the .gltf file written at ``root / target`` at the files
    written for them. ``logical`` is the file's name in the archive, and ``mapping``
    maps each archive name (as ``logical_parts`` joins it) to the path written."""
    folder = posixpath.dirname(logical)
    new_folder = target.parent.as_posix()

    def resolve(path_in_uri: str) -> str | None:
        joined = posixpath.normpath(posixpath.join(folder, path_in_uri.replace("\\", "/")))
        found = mapping.get(unicodedata.normalize("NFC", joined))
        if found is None:
            return None
        return posixpath.relpath(found.as_posix(), new_folder)

    changed = rewrite_gltf_uris(root / target, resolve)
    if changed:
        log.info("gltf=%r rewrote %d URIs to renamed files", target.as_posix(), changed)


# ---------------------------------------------------------------- model search


def find_model_file(
    folder: Path,
    *,
    preferred: tuple[str, ...] = ("glb", "gltf", "fbx", "obj"),
    label: str | None = None,
    container: str = "archive",
) -> Path:
    """Return the one model file under ``folder`` at any depth.

    Prefers formats in the order of ``preferred``; raises ``UnsupportedFileError``
    when there is none, or several of the chosen format. macOS resource forks
    (``._name`` files and ``__MACOSX`` folders) do not count. Messages name
    ``label`` (default: the folder's name) and call it an archive, or with
    ``container="folder"`` a folder, whose files the user can import one by one.
    """
    label = label or folder.name
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        kind = MODEL_SUFFIXES.get(path.suffix.lower())
        resource_fork = path.name.startswith("._") or "__MACOSX" in path.parts
        if kind and path.is_file() and not resource_fork:
            found.setdefault(kind, []).append(path)
    for kind in preferred:
        candidates = found.get(kind, [])
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            raise UnsupportedFileError(_several_models_message(folder, found, label, container))
    raise UnsupportedFileError(
        f"{label}: holds no GLB, glTF, FBX or OBJ file, so there is nothing to import."
    )


def _several_models_message(
    folder: Path, found: dict[str, list[Path]], label: str, container: str
) -> str:
    """Describe every model file found, of all formats, and what to do instead."""
    kinds = [kind for kind in MODEL_SUFFIXES.values() if kind in found]
    counts = [
        f"{len(found[kind])} {FORMAT_NAMES[kind]} model{'s' if len(found[kind]) != 1 else ''}"
        for kind in kinds
    ]
    counted = counts[0] if len(counts) == 1 else f"{', '.join(counts[:-1])} and {counts[-1]}"
    paths = [path for kind in kinds for path in found[kind]]
    names = ", ".join(str(path.relative_to(folder)) for path in paths[:MAX_LISTED_MODELS])
    if len(paths) > MAX_LISTED_MODELS:
        names += f" and {len(paths) - MAX_LISTED_MODELS} more"
    if container == "folder":
        advice = f"Import the file you want by its path, such as {paths[0]}."
    else:
        advice = "Extract it and import the file you want."
    return (
        f"{label}: holds {counted} ({names}), and Meshport imports one model per "
        f"{container}. {advice}"
    )


__all__ = [
    "DEFAULT_LIMITS",
    "MAX_PATH",
    "NAME_MAX_BYTES",
    "STAGING_SUFFIX",
    "WINDOWS_RESERVED",
    "ArchiveLimits",
    "check_tar_member",
    "check_unpacked_total",
    "copy_member",
    "extract_archive",
    "extract_tar",
    "extract_zip",
    "find_model_file",
    "logical_parts",
    "plan_paths",
    "rewrite_gltf_references",
    "staging_folder",
    "windows_safe_name",
]
