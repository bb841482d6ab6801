"""Safe extraction of zip and tar archives, and finding the model file inside.

Every entry name is untrusted. Extraction rejects absolute paths, ``..``, links,
device files, FIFOs, encrypted entries and archives over the size or compression-ratio
caps, before it writes a byte. Names are normalised to NFC and made storable on
Windows (see ``plan_paths``), and glTF files are rewritten to name their renamed
buffers and images. Files are written into a staging folder beside the destination
that is renamed into place at the end, so a rejected or failed archive leaves nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import posixpath
import re
import shutil
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

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
# Windows MAX_PATH is 260 UTF-16 units including the terminating NUL.
MAX_PATH = 259
NAME_MAX_BYTES = 255  # maximum file name length on most Linux and macOS file systems
MIN_COMPONENT_UNITS = 32
TAG_UNITS = 9  # "~" and 8 hex digits appended to a shortened or clashing name
STAGING_SUFFIX = ".extracting"
COPY_CHUNK = 1024 * 1024
MAX_LOGGED_RENAMES = 20

WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "123456789\u00b9\u00b2\u00b3"}
)
WINDOWS_INVALID_CHARACTERS = frozenset('<>:"|?*')
DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")
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


# ---------------------------------------------------------------- entry names


def logical_parts(name: str, *, label: str, folder: bool = False) -> tuple[str, ...]:
    """Split an archive entry name into NFC path parts, or raise ``UnsafeArchiveError``
    when it is absolute, names a drive, or climbs out with ``..``.

    Backslashes count as separators because Windows tools write them. Only a
    ``folder`` entry may be empty, as ``./`` is in archives packed from ``.``.
    """
    text = name.replace("\\", "/")
    if text.startswith("/") or DRIVE_PATTERN.match(text):
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' is an absolute path, so nothing was extracted. "
            "The archive may be hostile; get the asset from another source."
        )
    parts = tuple(unicodedata.normalize("NFC", part) for part in text.split("/"))
    parts = tuple(part for part in parts if part not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(
            f"{label}: the entry '{name}' climbs out of the archive folder with '..', so "
            "nothing was extracted. The archive may be hostile; get the asset from another "
            "source."
        )
    if not parts and not folder:
        raise UnsafeArchiveError(f"{label}: an entry has the empty name '{name}'.")
    return parts


def windows_safe_name(part: str) -> str:
    """Return ``part`` renamed so that Windows can store it: forbidden characters and
    control characters become ``_``, trailing dots and spaces go, and a reserved device
    name (``CON``, ``COM1``, ...) gets ``_`` after its stem (``CON.png`` -> ``CON_.png``)."""
    characters = []
    for character in part:
        code = ord(character)
        unsafe = code < 32 or 0xD800 <= code <= 0xDFFF or character in WINDOWS_INVALID_CHARACTERS
        characters.append("_" if unsafe else character)
    cleaned = "".join(characters).rstrip(" .") or "_"
    stem, dot, rest = cleaned.partition(".")
    if stem.rstrip(" ").upper() in WINDOWS_RESERVED:
        cleaned = f"{stem}_{dot}{rest}"
    return cleaned


def plan_paths(
    names: Sequence[str], root: Path, *, label: str, max_path: int = MAX_PATH
) -> list[PurePosixPath]:
    """Map archive entry names to the relative paths to write under ``root``.

    Each name is checked with ``logical_parts`` and made Windows-safe. The largest
    common cap on part length is chosen that keeps ``root`` plus every path within
    ``max_path`` UTF-16 units. A part over the cap becomes a prefix, ``~``, 8 hex
    digits of a hash of its original path, and its suffix. The same archive and root
    length give the same paths. Names that clash, ignoring case, get the same kind of
    tag.
    """
    logical = [logical_parts(name, label=label) for name in names]
    safe = [tuple(windows_safe_name(part) for part in parts) for parts in logical]
    root_units = _units(os.path.abspath(root)) + 1
    cap = _component_cap(safe, root_units, max_path, names, label)
    planned = [_capped_parts(parts, original, cap) for parts, original in zip(safe, logical)]
    return _resolve_clashes(planned, logical, cap)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _too_long(part: str, cap: int) -> bool:
    return _units(part) > cap or len(part.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES


def _path_units(parts: tuple[str, ...], root_units: int, cap: int) -> int:
    return root_units + sum(min(_units(part), cap) for part in parts) + len(parts) - 1


def _component_cap(
    entries: list[tuple[str, ...]],
    root_units: int,
    max_path: int,
    names: Sequence[str],
    label: str,
) -> int:
    budget = max_path - TAG_UNITS

    def fits(cap: int) -> bool:
        return all(_path_units(parts, root_units, cap) <= budget for parts in entries)

    if fits(NAME_MAX_BYTES):
        return NAME_MAX_BYTES
    if not fits(MIN_COMPONENT_UNITS):
        worst = max(range(len(entries)), key=lambda i: _path_units(entries[i], root_units, 0))
        raise UnsafeArchiveError(
            f"{label}: the entry '{names[worst][:200]}' is nested too deep to stay within "
            f"{max_path + 1} characters under a folder path {root_units - 1} characters long. "
            "Choose a shorter download folder, or unpack the archive with another tool."
        )
    low, high = MIN_COMPONENT_UNITS, NAME_MAX_BYTES
    while low < high - 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _capped_parts(parts: tuple[str, ...], original: tuple[str, ...], cap: int) -> tuple[str, ...]:
    capped = []
    for index, part in enumerate(parts):
        if _too_long(part, cap):
            part = _tagged(part, cap, "/".join(original[: index + 1]))
        capped.append(part)
    return tuple(capped)


def _tagged(part: str, cap: int, key: str) -> str:
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    tag = "~" + digest
    stem, suffix = posixpath.splitext(part)
    if len(suffix) > 16:
        stem, suffix = part, ""
    while stem and _too_long(stem + tag + suffix, cap):
        stem = stem[:-1]
    return stem.rstrip(" .") + tag + suffix


def _resolve_clashes(
    planned: list[tuple[str, ...]], logical: list[tuple[str, ...]], cap: int
) -> list[PurePosixPath]:
    def fold(parts: tuple[str, ...]) -> str:
        return unicodedata.normalize("NFC", "/".join(parts).casefold())

    folders = {fold(parts[:depth]) for parts in planned for depth in range(1, len(parts))}
    used_paths: set[str] = set()
    result = []
    for parts, original in zip(planned, logical):
        attempt = 0
        candidate = parts
        while fold(candidate) in used_paths or fold(candidate) in folders:
            key = f"clash{attempt}:" + "/".join(original)
            candidate = parts[:-1] + (_tagged(parts[-1], cap, key),)
            attempt += 1
        parts = candidate
        used_paths.add(fold(parts))
        result.append(PurePosixPath(*parts))
    return result


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
        logical_parts(name, label=label, folder=info.is_dir())
        _check_zip_entry(info, name, label, limits)
        if not info.is_dir():
            entries.append(_Entry(name, info.file_size, index))
    return entries


def _zip_name(info: zipfile.ZipInfo) -> str:
    """Return the entry name. Python's zipfile decodes names without the UTF-8 flag as
    cp437, as the zip specification (APPNOTE) requires. An Info-ZIP Unicode Path field
    overrides that name when its checksum matches the stored name."""
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
    folder: Path, *, preferred: tuple[str, ...] = ("glb", "gltf", "fbx", "obj")
) -> Path:
    """Return the one model file under ``folder`` at any depth.

    Prefers formats in the order of ``preferred``; raises ``UnsupportedFileError``
    when there is none, or several of the chosen format. macOS resource forks
    (``._name`` files and ``__MACOSX`` folders) do not count.
    """
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
            names = ", ".join(str(p.relative_to(folder)) for p in candidates[:5])
            raise UnsupportedFileError(
                f"{folder.name}: holds {len(candidates)} {kind.upper()} models ({names}); "
                "Meshport imports one model per archive. Extract it and import the file you want."
            )
    raise UnsupportedFileError(
        f"{folder.name}: holds no GLB, glTF, FBX or OBJ file, so there is nothing to import."
    )
