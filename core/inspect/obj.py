"""Checks of OBJ files: their material libraries (``mtllib``) and the textures that
those MTL files name."""

from __future__ import annotations

import logging
from pathlib import Path

from .paths import is_file, shown_name
from .report import ModelReport

log = logging.getLogger(__name__)

MTL_TEXTURE_KEYWORDS = frozenset({"bump", "disp", "decal", "refl", "norm"})


def inspect_obj(path: Path, *, root: Path | None = None) -> ModelReport:
    """List an OBJ file's material libraries (``mtllib``) and the textures they name,
    and warn about each one that is missing or outside ``root`` (default: the file's
    folder), which Meshport does not read."""
    root = root or path.parent
    warnings = []
    resources = []
    for reference in obj_material_libraries(path):
        library = _local_file(path.parent, reference)
        if library is not None and not _is_inside(library, root):
            warnings.append(
                f"{path.name}: the material library '{shown_name(reference)}' is outside "
                "the model's folder, so its materials import without colours or textures."
            )
            continue
        if library is None:
            warnings.append(
                f"{path.name}: the material library '{shown_name(reference)}' is missing, "
                "so its materials import without colours or textures."
            )
            continue
        resources.append(library)
        for texture in mtl_texture_references(library):
            image = _local_file(library.parent, texture)
            if image is None:
                image = _local_file(library.parent, texture.split()[-1])
            if image is None:
                warnings.append(
                    f"{library.name}: the texture '{shown_name(texture.split()[-1])}' is "
                    "missing, so its material imports without that texture."
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


def _is_inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def _local_file(folder: Path, reference: str) -> Path | None:
    """Return the file ``reference`` names relative to ``folder`` when it exists."""
    candidate = Path(reference.replace("\\", "/"))
    target = candidate if candidate.is_absolute() else folder / candidate
    return target if is_file(target) else None
