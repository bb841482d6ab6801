"""The report that the check of each model format returns."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


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
