"""Checks of glTF, GLB, FBX and OBJ files before Blender imports them.

Plain Python, no ``bpy``: the Blender side passes in what only it can know (the glTF
extensions its importer supports, whether the Draco library loads) and turns the
returned ``ModelReport`` into messages. A problem that would make Blender's importer
fail raises ``UnsupportedFileError`` with a message naming the file and the cause. A
problem that only loses detail, such as a missing texture or material library,
becomes a warning in the report.

The code is split by format into ``gltf`` (glTF and GLB, and the URI rewrite),
``fbx`` and ``obj``. ``report`` contains ``ModelReport``, and ``paths`` contains the
path helpers that several formats share. This package re-exports the public names
that other modules use, and ``inspect_model`` picks the check by suffix.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from ..errors import UnsupportedFileError
from .fbx import fbx_texture_paths, inspect_fbx, read_fbx_version
from .gltf import (
    DRACO_EXTENSION,
    gltf_uri_holders,
    inspect_gltf,
    read_glb_document,
    read_gltf_document,
    rewrite_gltf_uris,
)
from .obj import inspect_obj, mtl_texture_references, obj_mtllib_texts
from .paths import texture_basename
from .report import ModelReport

log = logging.getLogger(__name__)

__all__ = [
    "DRACO_EXTENSION",
    "ModelReport",
    "fbx_texture_paths",
    "gltf_uri_holders",
    "inspect_fbx",
    "inspect_gltf",
    "inspect_model",
    "inspect_obj",
    "mtl_texture_references",
    "obj_mtllib_texts",
    "read_fbx_version",
    "read_glb_document",
    "read_gltf_document",
    "rewrite_gltf_uris",
    "texture_basename",
]


def inspect_model(
    path: Path,
    *,
    supported_extensions: Collection[str] | None = None,
    draco_available: bool | None = None,
    root: Path | None = None,
) -> ModelReport:
    """Check a GLB, glTF, FBX or OBJ file, chosen by its suffix (see
    ``inspect_gltf``, ``inspect_fbx`` and ``inspect_obj``). Raises
    ``UnsupportedFileError`` for any other suffix."""
    suffix = path.suffix.lower()
    if suffix in (".glb", ".gltf"):
        return inspect_gltf(path, supported_extensions, draco_available=draco_available, root=root)
    if suffix == ".fbx":
        return inspect_fbx(path)
    if suffix == ".obj":
        return inspect_obj(path, root=root)
    raise UnsupportedFileError(
        f"{path.name}: Meshport imports GLB, glTF, FBX and OBJ files, not '{suffix}' files."
    )
