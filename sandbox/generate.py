"""Export the sandbox's own models into a library folder and describe them.

Each model gets the files both protocols serve:

- Sketchfab: ``sketchfab/model.glb`` (where offered) and ``sketchfab/model.zip``,
  the glTF archive with ``scene.gltf``, ``scene.bin``, ``textures/`` and
  ``license.txt``.
- Poly Haven: ``polyhaven/<format>/<resolution>/`` with the main file
  (``<id>_<resolution>.gltf`` or ``.fbx``) and its includes.

The Walking Figure is a rigged character whose FBX export is the Poly Haven ``fbx``
file; Sketchfab offers it converted to GLB and glTF, as Sketchfab converts uploads.
The Granite Boulder is offered on Sketchfab as the glTF archive only.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from . import scenes
from .library import (
    GENERATED_AUTHOR,
    counts_of_glb,
    counts_of_gltf,
    license_text,
    pack_scene_archive,
)

log = logging.getLogger(__name__)

LICENSE = "cc0"
LICENSE_LABEL = "CC0 Public Domain"


def generate_models(folder: Path) -> list[dict]:
    """Build and export every generated model under ``folder``; return the manifest
    entries, with paths relative to ``folder``."""
    folder.mkdir(parents=True)
    entries = [
        _crate(folder),
        _figure(folder),
        _boulder(folder),
    ]
    scenes.reset_scene()
    return entries


def _crate(folder: Path) -> dict:
    key = "painted_crate"

    def build(resolution: str, texture_folder: Path) -> None:
        texture = f"{key}_diff_{resolution}"
        scenes.build_crate(texture, scenes.RESOLUTIONS[resolution], texture_folder)

    entry = _entry(
        key,
        "Painted Crate",
        "A wooden crate with a generated plank texture.",
        categories=["furniture-home"],
        tags=["crate", "box", "wood", "prop", "textured"],
    )
    _export_model(folder, entry, build, resolutions=("1k", "2k"), offer_glb=True)
    return entry


def _figure(folder: Path) -> dict:
    key = "walking_figure"

    def build(resolution: str, texture_folder: Path) -> None:
        scenes.build_figure()

    entry = _entry(
        key,
        "Walking Figure",
        "A box-built character skinned to a seven-bone armature, with a walk cycle.",
        categories=["characters-creatures", "people"],
        tags=["character", "rigged", "animated", "walk", "figure"],
    )
    _export_model(folder, entry, build, resolutions=("1k",), offer_glb=True)
    return entry


def _boulder(folder: Path) -> dict:
    key = "granite_boulder"

    def build(resolution: str, texture_folder: Path) -> None:
        texture = f"{key}_diff_{resolution}"
        scenes.build_boulder(texture, scenes.RESOLUTIONS[resolution], texture_folder)

    entry = _entry(
        key,
        "Granite Boulder",
        "A rough granite boulder with a generated stone texture.",
        categories=["nature-plants"],
        tags=["rock", "boulder", "stone", "nature", "textured"],
    )
    _export_model(folder, entry, build, resolutions=("1k", "2k"), offer_glb=False)
    return entry


def _entry(key: str, name: str, description: str, **fields) -> dict:
    return {
        "key": key,
        "name": name,
        "author": GENERATED_AUTHOR,
        "license": LICENSE,
        "license_label": LICENSE_LABEL,
        "description": description,
        **fields,
    }


def _export_model(
    folder: Path,
    entry: dict,
    build: Callable[[str, Path], None],
    *,
    resolutions: tuple[str, ...],
    offer_glb: bool,
) -> None:
    """Build the model once per resolution and export every file; fills ``entry``'s
    ``polyhaven``, ``sketchfab`` and ``counts``."""
    key = entry["key"]
    root = folder / key
    entry["polyhaven"] = {"gltf": {}, "fbx": {}}
    for resolution in resolutions:
        fbx_folder = root / "polyhaven" / "fbx" / resolution
        gltf_folder = root / "polyhaven" / "gltf" / resolution
        # Textures are saved beside the FBX first, so its relative paths resolve.
        build(resolution, fbx_folder / "textures")
        scenes.export_fbx(fbx_folder / f"{key}_{resolution}.fbx")
        scenes.export_gltf_separate(gltf_folder / f"{key}_{resolution}.gltf")
        entry["polyhaven"]["fbx"][resolution] = _bundle(
            folder, fbx_folder, f"{key}_{resolution}.fbx"
        )
        entry["polyhaven"]["gltf"][resolution] = _bundle(
            folder, gltf_folder, f"{key}_{resolution}.gltf"
        )
        if resolution == resolutions[0]:
            entry["sketchfab"] = _export_sketchfab(folder, root, entry, offer_glb)
            entry["counts"] = counts_of_gltf(gltf_folder / f"{key}_{resolution}.gltf").to_dict()
    log.info("exported %s (%s)", entry["name"], ", ".join(resolutions))


def _export_sketchfab(folder: Path, root: Path, entry: dict, offer_glb: bool) -> dict:
    target = root / "sketchfab"
    scratch = root / ".scene"
    archives = {}
    if offer_glb:
        scenes.export_glb(target / "model.glb")
        counts_of_glb(target / "model.glb")  # fails early on a broken export
        archives["glb"] = str((target / "model.glb").relative_to(folder))

    scenes.export_gltf_separate(scratch / "scene.gltf")
    notice = license_text(entry["name"], entry["author"], entry["license_label"], "generated")
    pack_scene_archive(scratch / "scene.gltf", target / "model.zip", notice)
    shutil.rmtree(scratch)
    archives["gltf"] = str((target / "model.zip").relative_to(folder))
    return archives


def _bundle(folder: Path, bundle_folder: Path, main: str) -> dict:
    includes = sorted(
        str(path.relative_to(bundle_folder))
        for path in bundle_folder.rglob("*")
        if path.is_file() and path.name != main
    )
    return {"folder": str(bundle_folder.relative_to(folder)), "main": main, "include": includes}
