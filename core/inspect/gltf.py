"""Checks of glTF and GLB files: the GLB container, the glTF 2.0 JSON document, the
extensions it requires, and its buffer and image URIs, which must stay inside the
model's folder. ``rewrite_gltf_uris`` updates those URIs after the files move."""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import struct
from collections.abc import Callable, Collection, Iterator
from pathlib import Path, PurePosixPath
from typing import NoReturn
from urllib.parse import quote, unquote

from ..errors import UnsupportedFileError
from ..formats import describe_head
from .paths import DRIVE_PATTERN, is_file, shown_name
from .report import ModelReport

log = logging.getLogger(__name__)

GLB_MAGIC = b"glTF"
GLB_HEADER = struct.Struct("<4sII")
GLB_CHUNK_HEADER = struct.Struct("<II")
CHUNK_JSON = 0x4E4F534A  # "JSON" read as a little-endian uint32
CHUNK_BIN = 0x004E4942  # "BIN\0"
DRACO_EXTENSION = "KHR_draco_mesh_compression"
SCHEME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
MAX_LISTED = 5  # missing files named in one message


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
    except RecursionError:
        _raise_damaged(path, "its JSON is nested too deeply to read")
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
        f"{path.name}: not a valid glTF file, because {reason}. It may be incomplete or "
        "damaged; download or export it again."
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
            if is_file(target):
                present.append(target)
            elif key == "buffers":
                missing_buffers.append(shown_name(unquote(item["uri"])))
            else:
                warnings.append(
                    f"{path.name}: the image '{shown_name(unquote(item['uri']))}' is "
                    "missing, so its material imports without that texture."
                )
    if missing_buffers:
        listed = ", ".join(f"'{name}'" for name in missing_buffers[:MAX_LISTED])
        raise UnsupportedFileError(
            f"{path.name}: the buffer file(s) {listed} named by the glTF are missing from "
            "its folder. The files may be incomplete; download or export them again with "
            "every file the glTF names."
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
