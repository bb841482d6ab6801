"""Checks of glTF, GLB, FBX and OBJ files before Blender imports them.

Plain Python, no ``bpy``: the Blender side passes in what only it can know (the glTF
extensions its importer supports, whether the Draco library loads) and turns the
returned ``ModelReport`` into messages. A problem that would make Blender's importer
fail raises ``UnsupportedFileError`` with a message naming the file and the cause. A
problem that only loses detail, such as a missing texture or material library,
becomes a warning in the report.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import posixpath
import re
import struct
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import NoReturn
from urllib.parse import quote, unquote

from .errors import UnsupportedFileError
from .formats import IMAGE_SUFFIXES, describe_head

log = logging.getLogger(__name__)

GLB_MAGIC = b"glTF"
GLB_HEADER = struct.Struct("<4sII")
GLB_CHUNK_HEADER = struct.Struct("<II")
CHUNK_JSON = 0x4E4F534A  # "JSON" read as a little-endian uint32
CHUNK_BIN = 0x004E4942  # "BIN\0"
DRACO_EXTENSION = "KHR_draco_mesh_compression"

FBX_BINARY_MAGIC = b"Kaydara FBX Binary  \x00"
FBX_HEADER_SIZE = 27  # magic, 0x1A 0x00, then the version as a little-endian uint32
MIN_FBX_VERSION = 7100  # the oldest version io_scene_fbx reads in Blender 4.2 and 4.5
FBX_WIDE_RECORDS = 7500  # from this version on, node records use 64-bit offsets
ASCII_FBX_PATTERN = re.compile(rb"^\s*(;\s*FBX\s+\d|FBXHeaderExtension\s*:)", re.MULTILINE)
ASCII_FBX_VERSION = re.compile(rb"FBXVersion\s*:\s*(\d+)")

SCHEME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
DRIVE_PATTERN = re.compile(r"^[A-Za-z]:")
MTL_TEXTURE_KEYWORDS = frozenset({"bump", "disp", "decal", "refl", "norm"})
MAX_LISTED = 5  # missing files named in one message


@dataclass(frozen=True)
class ModelReport:
    """The declared contents and external needs of one model file, found before import."""

    path: Path
    file_format: str  # "glb", "gltf", "fbx" or "obj"
    mesh_count: int | None = None  # meshes a glTF declares; None for FBX and OBJ
    fbx_version: int | None = None
    extensions_required: tuple[str, ...] = ()
    needs_draco: bool = False  # the file requires KHR_draco_mesh_compression
    resources: tuple[Path, ...] = ()  # external files the model reads, all present
    warnings: tuple[str, ...] = ()  # sentences for the artist about lost detail


def inspect_model(
    path: Path,
    *,
    supported_extensions: Collection[str] | None = None,
    draco_available: bool | None = None,
    root: Path | None = None,
) -> ModelReport:
    """Check a GLB, glTF, FBX or OBJ file, chosen by its suffix (see the functions
    below). Raises ``UnsupportedFileError`` for any other suffix."""
    suffix = path.suffix.lower()
    if suffix in (".glb", ".gltf"):
        return inspect_gltf(path, supported_extensions, draco_available=draco_available, root=root)
    if suffix == ".fbx":
        return inspect_fbx(path)
    if suffix == ".obj":
        return inspect_obj(path)
    raise UnsupportedFileError(
        f"{path.name}: Meshport imports GLB, glTF, FBX and OBJ files, not '{suffix}' files."
    )


# ---------------------------------------------------------------- glTF and GLB


def inspect_gltf(
    path: Path,
    supported_extensions: Collection[str] | None,
    *,
    draco_available: bool | None = None,
    root: Path | None = None,
) -> ModelReport:
    """Check a .gltf or .glb file against what this Blender's importer can read.

    ``supported_extensions`` is the set of extension names the importer supports;
    None skips that comparison. ``draco_available=False`` makes a file that requires
    Draco fail here. Every buffer and image URI must stay inside ``root`` (default:
    the file's folder); a missing buffer raises and a missing image is a warning.
    """
    document = read_gltf_document(path)
    required = _string_list(document, "extensionsRequired", path)
    if supported_extensions is not None:
        _check_extensions(path, required, supported_extensions)
    needs_draco = DRACO_EXTENSION in required
    if needs_draco and draco_available is False:
        raise UnsupportedFileError(
            f"{path.name}: the meshes are Draco-compressed ({DRACO_EXTENSION}), but this "
            "Blender could not load its Draco library. Ask the platform for a version "
            "without Draco compression, or reinstall Blender."
        )
    resources, warnings = _check_resources(document, path, root or path.parent)
    meshes = document.get("meshes")
    return ModelReport(
        path=path,
        file_format="glb" if path.suffix.lower() == ".glb" else "gltf",
        mesh_count=len(meshes) if isinstance(meshes, list) else 0,
        extensions_required=tuple(required),
        needs_draco=needs_draco,
        resources=tuple(resources),
        warnings=tuple(warnings),
    )


def read_gltf_document(path: Path) -> dict:
    """Return the JSON document of a .gltf file, or of a file starting with the GLB
    magic bytes, after checking that it is glTF 2.0."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == GLB_MAGIC:
        return read_glb_document(path)
    return _parse_document(path.read_bytes(), path)


def read_glb_document(path: Path) -> dict:
    """Return the JSON chunk of a GLB file.

    The header's length must equal the file size, the first chunk must be JSON, at
    most one BIN chunk may follow it, and every chunk must fit inside the file.
    Chunks of other types are skipped, as the glTF 2.0 specification requires.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(GLB_HEADER.size)
        if len(header) < GLB_HEADER.size or header[:4] != GLB_MAGIC:
            _raise_damaged(path, f"it does not start with a GLB header ({describe_head(header)})")
        _, version, length = GLB_HEADER.unpack(header)
        if version != 2:
            _raise_old_gltf(path, f"binary glTF version {version}")
        if length != size:
            _raise_damaged(path, f"the GLB header declares {length} bytes but the file has {size}")
        chunk_length, chunk_type = _read_chunk_header(handle, path)
        if chunk_type != CHUNK_JSON:
            _raise_damaged(path, f"the first chunk has type 0x{chunk_type:08X}, not JSON")
        if GLB_HEADER.size + GLB_CHUNK_HEADER.size + chunk_length > size:
            _raise_damaged(path, "the JSON chunk runs past the end of the file")
        text = handle.read(chunk_length)
        _check_later_chunks(handle, path, size)
    return _parse_document(text, path)


def _read_chunk_header(handle, path: Path) -> tuple[int, int]:
    data = handle.read(GLB_CHUNK_HEADER.size)
    if len(data) < GLB_CHUNK_HEADER.size:
        _raise_damaged(path, "a chunk header is cut short")
    return GLB_CHUNK_HEADER.unpack(data)


def _check_later_chunks(handle, path: Path, size: int) -> None:
    binary_chunks = 0
    chunk_index = 1
    while handle.tell() < size:
        chunk_length, chunk_type = _read_chunk_header(handle, path)
        if handle.tell() + chunk_length > size:
            _raise_damaged(path, f"chunk {chunk_index} runs past the end of the file")
        if chunk_type == CHUNK_JSON:
            _raise_damaged(path, "it holds a second JSON chunk")
        if chunk_type == CHUNK_BIN:
            binary_chunks += 1
            if binary_chunks > 1 or chunk_index != 1:
                _raise_damaged(path, "the BIN chunk is not the one chunk after the JSON chunk")
        handle.seek(chunk_length, os.SEEK_CUR)
        chunk_index += 1


def _parse_document(data: bytes, path: Path) -> dict:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as error:
        _raise_damaged(path, f"its JSON is invalid ({error})")
    if not isinstance(document, dict):
        _raise_damaged(path, "its JSON is not an object")
    asset = document.get("asset")
    version = asset.get("version") if isinstance(asset, dict) else None
    if not isinstance(version, str):
        _raise_damaged(path, "it has no asset.version, which every glTF file must have")
    if not version.startswith("2."):
        _raise_old_gltf(path, f"glTF version {version}")
    return document


def _raise_damaged(path: Path, reason: str) -> NoReturn:
    raise UnsupportedFileError(
        f"{path.name}: not a valid glTF file, because {reason}. The download may be "
        "incomplete or damaged; download it again."
    )


def _raise_old_gltf(path: Path, what: str) -> NoReturn:
    raise UnsupportedFileError(
        f"{path.name}: the file is {what}, and Blender's importer reads glTF 2.0 only. "
        "Ask the platform for a glTF 2.0, GLB or FBX version."
    )


def _string_list(document: dict, key: str, path: Path) -> list[str]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        _raise_damaged(path, f"'{key}' is not a list of names")
    return value


def _check_extensions(path: Path, required: list[str], supported: Collection[str]) -> None:
    unsupported = [name for name in required if name not in supported]
    if not unsupported:
        return
    names = ", ".join(unsupported)
    plural = "s" if len(unsupported) > 1 else ""
    raise UnsupportedFileError(
        f"{path.name}: the file requires the glTF extension{plural} {names}, which this "
        "Blender's glTF importer does not support. Ask the platform for another format "
        "(such as FBX or an uncompressed glTF), or update Blender."
    )


def gltf_uri_holders(document: dict) -> Iterator[dict]:
    """Yield the buffer and image objects of a glTF document that carry a ``uri``."""
    for key in ("buffers", "images"):
        items = document.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict) and "uri" in item:
                yield item


def resolve_gltf_uri(uri: object, folder: Path, root: Path, *, label: str) -> Path | None:
    """Return the file a glTF URI names, or None for a ``data:`` URI.

    The URI is percent-decoded and resolved against ``folder``. Raises
    ``UnsupportedFileError`` when it is not a string, is absolute, names a drive or
    another scheme, or leads outside ``root`` (through ``..`` or a symbolic link).
    """
    if not isinstance(uri, str):
        raise UnsupportedFileError(f"{label}: a buffer or image URI is not a string ({uri!r}).")
    if uri.startswith("data:"):
        return None
    decoded = unquote(uri).replace("\\", "/")
    outside = decoded.startswith("/") or DRIVE_PATTERN.match(decoded) or SCHEME_PATTERN.match(uri)
    relative_folder = PurePosixPath(os.path.relpath(folder, root)).as_posix()
    joined = posixpath.normpath(posixpath.join(relative_folder, decoded))
    target = root / joined
    if not outside and (joined == ".." or joined.startswith("../")):
        outside = True
    if not outside and not _is_inside(target, root):
        outside = True
    if outside:
        raise UnsupportedFileError(
            f"{label}: the URI '{uri[:200]}' points outside the model's folder, so the "
            "file was not imported. Only files inside the downloaded folder are read; "
            "the file may be hostile."
        )
    return target


def _is_inside(target: Path, root: Path) -> bool:
    return target.resolve().is_relative_to(root.resolve())


def _check_resources(document: dict, path: Path, root: Path) -> tuple[list[Path], list[str]]:
    present: list[Path] = []
    missing_buffers: list[str] = []
    warnings: list[str] = []
    for key in ("buffers", "images"):
        items = document.get(key, [])
        if not isinstance(items, list):
            _raise_damaged(path, f"'{key}' is not a list")
        for item in items:
            if not isinstance(item, dict) or "uri" not in item:
                continue
            target = resolve_gltf_uri(item["uri"], path.parent, root, label=path.name)
            if target is None:
                continue
            if target.is_file():
                present.append(target)
            elif key == "buffers":
                missing_buffers.append(unquote(item["uri"]))
            else:
                warnings.append(
                    f"{path.name}: the image '{unquote(item['uri'])}' is missing, so its "
                    "material imports without that texture."
                )
    if missing_buffers:
        listed = ", ".join(f"'{name}'" for name in missing_buffers[:MAX_LISTED])
        raise UnsupportedFileError(
            f"{path.name}: the buffer file(s) {listed} named by the glTF are missing from "
            f"{path.parent}. The download may be incomplete; download it again."
        )
    return present, warnings


def rewrite_gltf_uris(path: Path, resolve: Callable[[str], str | None]) -> int:
    """Rewrite the buffer and image URIs of a .gltf file in place.

    ``resolve`` receives each percent-decoded relative URI and returns the new
    relative path, or None to keep it. ``data:`` URIs and URIs with a scheme are
    kept. Returns how many URIs changed; the file is written only when one did.
    """
    try:
        document = _parse_document(path.read_bytes(), path)
    except UnsupportedFileError as error:
        log.warning("gltf=%s URIs left unchanged: %s", path.name, error.message)
        return 0
    changed = 0
    for holder in gltf_uri_holders(document):
        uri = holder["uri"]
        if not isinstance(uri, str) or uri.startswith("data:") or SCHEME_PATTERN.match(uri):
            continue
        decoded = unquote(uri)
        new_path = resolve(decoded)
        if new_path is None or new_path == posixpath.normpath(decoded.replace("\\", "/")):
            continue
        holder["uri"] = quote(new_path, safe="/")
        changed += 1
    if changed:
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return changed


# ---------------------------------------------------------------- FBX


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
        f"{path.name}: not an FBX file (it starts with {describe_head(head[:16])}). The "
        "download may be damaged; download it again."
    )


def inspect_fbx(path: Path) -> ModelReport:
    """Check an FBX file's header and warn about textures that are neither embedded
    nor next to the file, where Blender's importer searches for them by name."""
    version = read_fbx_version(path)
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
            log.warning("fbx=%s texture scan stopped at a damaged record: %s", path.name, error)
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


def texture_basename(path_text: str) -> str:
    """Return the file name of a texture path written with either separator."""
    return PureWindowsPath(path_text).name


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


# ---------------------------------------------------------------- OBJ


def inspect_obj(path: Path) -> ModelReport:
    """List an OBJ file's material libraries (``mtllib``) and the textures they name,
    and warn about each one that is missing."""
    warnings = []
    resources = []
    for reference in obj_material_libraries(path):
        library = _local_file(path.parent, reference)
        if library is None:
            warnings.append(
                f"{path.name}: the material library '{reference}' is missing, so its "
                "materials import without colours or textures."
            )
            continue
        resources.append(library)
        for texture in mtl_texture_references(library):
            image = _local_file(library.parent, texture)
            if image is None:
                image = _local_file(library.parent, texture.split()[-1])
            if image is None:
                warnings.append(
                    f"{library.name}: the texture '{texture.split()[-1]}' is missing, so its "
                    "material imports without that texture."
                )
            else:
                resources.append(image)
    return ModelReport(
        path=path, file_format="obj", resources=tuple(resources), warnings=tuple(warnings)
    )


def obj_material_libraries(path: Path) -> list[str]:
    """Return the material library names of an OBJ file.

    One ``mtllib`` line may list several libraries separated by spaces, or name one
    library whose file name contains spaces. The whole text wins when that file exists.
    """
    return [
        name
        for reference in obj_mtllib_texts(path)
        for name in _split_references(path.parent, reference)
    ]


def obj_mtllib_texts(path: Path) -> list[str]:
    """Return the text after each ``mtllib`` keyword of an OBJ file."""
    found = []
    with open(path, "rb") as handle:
        for line in handle:
            stripped = line.strip()
            if stripped.startswith(b"mtllib") and stripped[6:7].isspace():
                found.append(stripped[7:].strip().decode("utf-8", "replace"))
    return found


def _split_references(folder: Path, reference: str) -> list[str]:
    if not reference:
        return []
    if _local_file(folder, reference) is not None:
        return [reference]
    return reference.split()


def mtl_texture_references(path: Path) -> list[str]:
    """Return the text after each texture keyword (``map_Kd``, ``bump``, ...) of an
    MTL file, options included. The file name is the last word or the whole text."""
    found = []
    with open(path, "rb") as handle:
        for line in handle:
            words = line.strip().decode("utf-8", "replace").split(None, 1)
            if len(words) < 2:
                continue
            keyword = words[0].lower()
            if keyword.startswith("map_") or keyword in MTL_TEXTURE_KEYWORDS:
                found.append(words[1].strip())
    return found


def _local_file(folder: Path, reference: str) -> Path | None:
    """Return the file ``reference`` names relative to ``folder`` when it exists."""
    candidate = Path(reference.replace("\\", "/"))
    target = candidate if candidate.is_absolute() else folder / candidate
    return target if target.is_file() else None
