"""Checks of FBX files: the binary header and its version, and the texture paths that
the node records name."""

from __future__ import annotations

import logging
import mmap
import re
import struct
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath

from ..errors import UnsupportedFileError
from ..formats import IMAGE_SUFFIXES, describe_head
from .paths import DRIVE_PATTERN, texture_basename
from .report import ModelReport

log = logging.getLogger(__name__)

FBX_BINARY_MAGIC = b"Kaydara FBX Binary  \x00"
FBX_HEADER_SIZE = 27  # magic, 0x1A 0x00, then the version as a little-endian uint32
MIN_FBX_VERSION = 7100  # the oldest version io_scene_fbx reads in Blender 4.2 and 4.5
FBX_WIDE_RECORDS = 7500  # from this version on, node records use 64-bit offsets
ASCII_FBX_PATTERN = re.compile(rb"^\s*(;\s*FBX\s+\d|FBXHeaderExtension\s*:)", re.MULTILINE)
ASCII_FBX_VERSION = re.compile(rb"FBXVersion\s*:\s*(\d+)")


def read_fbx_version(path: Path) -> int:
    """Return the version of a binary FBX file (7400 for FBX 7.4).

    Raises ``UnsupportedFileError`` for ASCII FBX, for binary versions before 7100,
    which Blender's FBX importer rejects, and for files that are not FBX at all.
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(FBX_BINARY_MAGIC) and len(head) >= FBX_HEADER_SIZE:
        version = struct.unpack_from("<I", head, 23)[0]
        if version < MIN_FBX_VERSION:
            raise UnsupportedFileError(
                f"{path.name} is a binary FBX file of version {version} "
                f"(FBX {version // 1000}.{version % 1000 // 100}), but Blender's FBX "
                f"importer reads version {MIN_FBX_VERSION} (FBX 7.1) and later only. Ask "
                "the platform for another format such as glTF, or for FBX 7.4 or later."
            )
        return version
    if ASCII_FBX_PATTERN.search(head):
        found = ASCII_FBX_VERSION.search(head)
        version = f" (version {found.group(1).decode()})" if found else ""
        raise UnsupportedFileError(
            f"{path.name} is an ASCII FBX file{version}, and Blender's FBX importer reads "
            "binary FBX files only. Ask the platform for another format such as glTF or "
            "binary FBX, or convert the file to binary FBX in another 3D application."
        )
    raise UnsupportedFileError(
        f"{path.name}: not an FBX file (it starts with {describe_head(head[:16])}). It "
        "may be damaged or another kind of file; download or export it again."
    )


def inspect_fbx(path: Path) -> ModelReport:
    """Check an FBX file's header and warn about textures that are neither embedded
    nor next to the file, where Blender's importer searches for them by name."""
    version = read_fbx_version(path)
    check_fbx_records(path, version)
    textures = fbx_texture_paths(path, include_embedded=False)
    warnings = []
    if textures:
        available = _file_names_under(path.parent)
        for texture in textures:
            if not _texture_found(path.parent, texture, available):
                warnings.append(
                    f"{path.name}: the texture '{texture}' is not next to the FBX file, so "
                    "its material imports without that texture."
                )
    return ModelReport(path=path, file_format="fbx", fbx_version=version, warnings=tuple(warnings))


def check_fbx_records(path: Path, version: int) -> None:
    """Raise ``UnsupportedFileError`` when a top-level node record of a binary FBX file
    ends outside the file, as it does in a truncated download. Blender's importer
    would fail on such a file with a traceback instead of a reason."""
    record = struct.Struct("<Q" if version >= FBX_WIDE_RECORDS else "<I")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        offset = FBX_HEADER_SIZE
        while offset + record.size <= size:
            handle.seek(offset)
            (end_offset,) = record.unpack(handle.read(record.size))
            if end_offset == 0:
                return
            if end_offset <= offset or end_offset > size:
                raise UnsupportedFileError(
                    f"{path.name} is damaged: the FBX record at byte {offset} ends at byte "
                    f"{end_offset}, but the file has {size} bytes, so it is probably "
                    "truncated. Download or export it again."
                )
            offset = end_offset
    raise UnsupportedFileError(
        f"{path.name} is damaged: its FBX records stop at byte {offset} of {size} without "
        "the closing record, so it is probably truncated. Download or export it again."
    )


def fbx_texture_paths(path: Path, *, include_embedded: bool = True) -> list[str]:
    """Return the image paths that a binary FBX file names, each once, in file order.

    Walks the node records and keeps string properties that end in an image suffix.
    With ``include_embedded=False``, names whose image data the file embeds (a
    ``Video`` record with non-empty ``Content``) are left out. A damaged record ends
    the walk, and the names found before it are returned.
    """
    if path.stat().st_size < FBX_HEADER_SIZE:
        return []
    found: dict[str, None] = {}
    embedded_videos: set[int] = set()
    video_names: list[tuple[int, str]] = []
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[: len(FBX_BINARY_MAGIC)] != FBX_BINARY_MAGIC:
            return []
        version = struct.unpack_from("<I", data, 23)[0]
        try:
            for video, record_name, value in _fbx_properties(data, version >= FBX_WIDE_RECORDS):
                if isinstance(value, int):
                    if record_name == b"Content" and value > 0 and video is not None:
                        embedded_videos.add(video)
                    continue
                text = value.decode("utf-8", "replace")
                if "\x00" not in text and _image_suffix(text):
                    found.setdefault(text, None)
                    if video is not None:
                        video_names.append((video, text))
        except (struct.error, ValueError, IndexError) as error:
            log.info("fbx=%s texture scan stopped at a damaged record: %s", path.name, error)
    if include_embedded:
        return list(found)
    embedded = {
        texture_basename(text).casefold() for video, text in video_names if video in embedded_videos
    }
    return [text for text in found if texture_basename(text).casefold() not in embedded]


def _fbx_properties(data: mmap.mmap, wide: bool) -> Iterator[tuple[int | None, bytes, bytes | int]]:
    """Yield ``(video, record name, value)`` for each string property (value: its
    bytes) and raw-data property (value: its length) of every node record.

    ``video`` is the offset of the enclosing ``Video`` record, or None. Nested records
    are walked with an explicit stack, so a deeply nested file cannot exhaust Python's
    recursion limit.
    """
    record = struct.Struct("<QQQB" if wide else "<IIIB")
    fixed_sizes = {"Y": 2, "C": 1, "I": 4, "F": 4, "D": 8, "L": 8}
    stack: list[tuple[int, int, int | None]] = [(FBX_HEADER_SIZE, len(data), None)]
    while stack:
        offset, end, video = stack.pop()
        while offset + record.size <= end:
            end_offset, count, list_length, name_length = record.unpack_from(data, offset)
            if end_offset == 0:
                break
            if end_offset <= offset:
                raise ValueError(f"record at {offset} ends at {end_offset}")
            name_start = offset + record.size
            name = bytes(data[name_start : name_start + name_length])
            position = name_start + name_length
            for _ in range(count):
                kind = chr(data[position])
                position += 1
                if kind in "SR":
                    (length,) = struct.unpack_from("<I", data, position)
                    if position + 4 + length > len(data):
                        raise ValueError(f"string at {position} runs past the end of the file")
                    value = data[position + 4 : position + 4 + length] if kind == "S" else length
                    yield video, name, value
                    position += 4 + length
                elif kind in fixed_sizes:
                    position += fixed_sizes[kind]
                elif kind in "fdlib":
                    position += 12 + struct.unpack_from("<III", data, position)[2]
                else:
                    raise ValueError(f"unknown property type {kind!r} at {position - 1}")
            children = name_start + name_length + list_length
            stack.append((end_offset, end, video))
            stack.append((children, end_offset, offset if name == b"Video" else video))
            break


def _image_suffix(text: str) -> bool:
    return PureWindowsPath(text).suffix.lower() in IMAGE_SUFFIXES


def _file_names_under(folder: Path, limit: int = 20_000) -> set[str]:
    names = set()
    for count, path in enumerate(folder.rglob("*")):
        if count >= limit:
            break
        names.add(path.name.casefold())
    return names


def _texture_found(folder: Path, texture: str, available: set[str]) -> bool:
    relative = texture.replace("\\", "/")
    absolute = relative.startswith("/") or DRIVE_PATTERN.match(relative)
    if not absolute and (folder / relative).is_file():
        return True
    # Blender's image search (bpy_extras.image_utils.load_image in 4.5) walks the
    # folder and compares file names without case.
    return texture_basename(texture).casefold() in available
