"""Keep imported images out of the download cache: pack them into the .blend, or copy
them into a ``textures`` folder next to it."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import bpy

from ..core.errors import ImportFailedError
from ..core.formats import IMAGE_MAGIC
from ..core.inspect.paths import shown_name

log = logging.getLogger(__name__)

TEXTURES_FOLDER = "textures"
MISSING = "is missing"
# Blender keeps an image path in a fixed buffer of 1024 bytes and saves all of it,
# so the bytes after the end of a shorter new path still hold the old one.
PATH_BUFFER_BYTES = 1024
FILE_FORMAT_SUFFIXES = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "TARGA": ".tga",
    "TARGA_RAW": ".tga",
    "BMP": ".bmp",
    "OPEN_EXR": ".exr",
    "OPEN_EXR_MULTILAYER": ".exr",
    "HDR": ".hdr",
    "TIFF": ".tif",
    "WEBP": ".webp",
}


def store_images(
    images,
    *,
    pack: bool,
    folder_name: str,
    root: Path | None = None,
    reported: tuple[str, ...] = (),
) -> list[str]:
    """Pack ``images`` into the .blend, or copy them next to it when ``pack`` is False.

    Copying needs a saved .blend, so an unsaved one gets its images packed instead.
    Every image ends up with a path that does not lead into the download cache:
    a packed image keeps ``//textures/<file>`` as the place Blender unpacks it to.
    Only files inside ``root`` are read, so a model cannot pull other files of the
    machine into the .blend. Returns warnings for the artist (images left empty, the
    fallback to packing), leaving out a missing file that one of the ``reported``
    warnings already names.
    """
    warnings: list[str] = []
    if not pack and not bpy.data.is_saved:
        warnings.append(
            "The .blend file is not saved yet, so the images were packed into it instead "
            "of copied next to it."
        )
        pack = True
    target = _copy_folder(folder_name) if not pack else None
    used_names: set[str] = set()
    for image in images:
        if image.source != "FILE":
            continue
        file_name = _file_name(image)
        name = _unique_name(file_name, used_names)
        data, problem = _read_image(image, root)
        if data is None:
            if not _named_in(reported, file_name):
                texture = shown_name(file_name)
                warnings.append(f"The texture '{texture}' {problem}, so its image stays empty.")
            set_image_path(image, f"//{TEXTURES_FOLDER}/{name}")
            continue
        if pack:
            _pack(image, data, name)
        else:
            _copy(image, data, target / name)
    return warnings


def _read_image(image, root: Path | None) -> tuple[bytes | None, str]:
    """Return the image's bytes, or None and what kept them from being read."""
    if image.packed_file is not None:
        return bytes(image.packed_file.data), ""
    path = Path(bpy.path.abspath(image.filepath_raw))
    try:
        resolved = path.resolve()
        if root is not None and not resolved.is_relative_to(root.resolve()):
            log.info("image=%s file=%s outside %s; not read", image.name, path, root)
            return None, f"is outside the model's folder {root}, so it was not read"
        if not resolved.is_file():
            return None, MISSING
        data = resolved.read_bytes()
    except (OSError, RuntimeError) as error:
        # The caller turns this into a warning for the artist.
        log.info("image=%s file=%s unreadable: %s", image.name, path, error)
        return None, "could not be read"
    # A known image signature skips the check below, which decodes the whole image.
    is_webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if not (data.startswith(IMAGE_MAGIC) or is_webp) and tuple(image.size) == (0, 0):
        return None, "is not an image Blender can read"
    return data, ""


def _named_in(warnings: tuple[str, ...], file_name: str) -> bool:
    """Return whether one of ``warnings`` already names the file, in full or cut."""
    names = (f"{file_name}'", f"{shown_name(file_name)}'")
    return any(name in warning for warning in warnings for name in names)


def _file_name(image) -> str:
    original = Path(bpy.path.abspath(image.filepath_raw)).name if image.filepath_raw else ""
    if original:
        stem, suffix = Path(original).stem, Path(original).suffix
    else:
        stem, suffix = image.name, FILE_FORMAT_SUFFIXES.get(image.file_format, "")
        if Path(stem).suffix.lower() == suffix.lower():
            stem = Path(stem).stem
    return bpy.path.clean_name(stem) + suffix.lower()


def _unique_name(name: str, used: set[str]) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = name, 1
    while candidate.casefold() in used:
        candidate = f"{stem}_{number}{suffix}"
        number += 1
    used.add(candidate.casefold())
    return candidate


def _pack(image, data: bytes, name: str) -> None:
    # Packing from bytes records the new path in the packed file as well, so the
    # saved .blend keeps no trace of the cache path.
    set_image_path(image, f"//{TEXTURES_FOLDER}/{name}")
    image.pack(data=data, data_len=len(data))


def _copy_folder(folder_name: str) -> Path:
    blend_folder = Path(bpy.path.abspath("//"))
    return blend_folder / TEXTURES_FOLDER / bpy.path.clean_name(folder_name)


def _copy(image, data: bytes, target: Path) -> None:
    target = _free_target(target, data)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_bytes(data)
    except OSError as error:
        raise ImportFailedError(
            f"Cannot copy the image '{image.name}' to {target} ({error.strerror or error}). "
            "Check that the folder of the .blend file is writable, or pack images instead."
        ) from error
    set_image_path(image, bpy.path.relpath(str(target)))
    if image.packed_file is not None:
        image.unpack(method="REMOVE")
    image.reload()


def set_image_path(image, path: str) -> None:
    """Set the image's path without reloading it, overwriting the whole old path
    first so that no byte of it is saved with the .blend."""
    image.filepath_raw = "x" * (PATH_BUFFER_BYTES - 1)
    image.filepath_raw = path


def _free_target(target: Path, data: bytes) -> Path:
    """Return ``target``, or a name with a short digest when a different file is
    already there (two assets with a texture of the same name)."""
    if not target.exists() or target.read_bytes() == data:
        return target
    digest = hashlib.sha1(data).hexdigest()[:8]
    return target.with_name(f"{target.stem}_{digest}{target.suffix}")
