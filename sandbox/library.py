"""The sandbox's sample library: models, their files and how they are listed.

The library has two parts:

- Models Blender builds and exports on first run (``scenes``), kept in
  ``<state>/library-v<N>/`` with a ``manifest.json`` so later runs start at once.
- The real files of a sample folder (``MESHPORT_SAMPLE_ASSETS``), read at every
  start (``samples``).

Every model carries a name, an author, a licence and counts (triangles, vertices,
textures, animations), plus the files each platform protocol serves for it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .packing import ModelCounts, glb_json, gltf_counts, scene_archive_files, stable_uid, write_zip

log = logging.getLogger(__name__)

# Raise when the generated models change, so older copies are built again.
LIBRARY_VERSION = 1
GENERATED_AUTHOR = "Meshport sandbox"
PUBLISHED_AT = "2024-06-01T12:00:00"


@dataclass(frozen=True)
class FileBundle:
    """One downloadable file and the files it needs beside it (a .gltf with its .bin
    and textures), as paths relative to ``folder``."""

    folder: Path
    main: str
    includes: tuple[str, ...] = ()

    def path(self, relative: str) -> Path:
        return self.folder / relative


@dataclass(frozen=True)
class SandboxModel:
    """One model of the library.

    ``key`` is the Poly Haven asset id and the seed of the Sketchfab uid.
    ``license`` is a Sketchfab licence slug, or "" when none fits, in which case
    ``license_label`` is the only licence text. ``sketchfab_archives`` maps an
    archive name (``glb``, ``gltf``) to its file; ``polyhaven_files`` maps a format
    and a resolution (``"gltf"`` -> ``"1k"``) to a ``FileBundle``.
    """

    key: str
    name: str
    author: str
    license: str
    license_label: str
    counts: ModelCounts
    description: str = ""
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sketchfab_archives: dict[str, Path] = field(default_factory=dict)
    polyhaven_files: dict[str, dict[str, FileBundle]] = field(default_factory=dict)
    published_at: str = PUBLISHED_AT

    @property
    def uid(self) -> str:
        return stable_uid(self.key)


@dataclass
class Library:
    models: list[SandboxModel]

    def by_uid(self, uid: str) -> SandboxModel | None:
        return next((model for model in self.models if model.uid == uid), None)

    def by_key(self, key: str) -> SandboxModel | None:
        return next((model for model in self.models if model.key == key), None)

    def on_sketchfab(self) -> list[SandboxModel]:
        return [model for model in self.models if model.sketchfab_archives]

    def on_polyhaven(self) -> list[SandboxModel]:
        return [model for model in self.models if model.polyhaven_files]


def load_library(state_dir: Path, sample_dir: Path | None = None) -> Library:
    """Return the library: the generated models (built now if missing) and, when
    ``sample_dir`` is given, the models made from its files."""
    models = load_generated(state_dir / f"library-v{LIBRARY_VERSION}")
    if sample_dir is not None:
        from .samples import sample_models

        models += sample_models(sample_dir, state_dir / "samples")
    return Library(models)


# Generated models


def load_generated(folder: Path) -> list[SandboxModel]:
    """Read the generated models from ``folder``, building them first when the folder
    has no manifest. A build runs in a private folder renamed into place when done,
    so an interrupted or concurrent first run never leaves a half-built library."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        _build_generated(folder)
    entries = json.loads(manifest.read_text(encoding="utf-8"))["models"]
    return [_model_from_entry(folder, entry) for entry in entries]


def _build_generated(folder: Path) -> None:
    from .generate import generate_models

    building = folder.with_name(f"{folder.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    log.info("building the sandbox library in %s", folder)
    try:
        entries = generate_models(building)
        manifest = {"version": LIBRARY_VERSION, "models": entries}
        (building / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        building.rename(folder)
    except OSError:
        if not (folder / "manifest.json").is_file():
            raise
        log.info("another process built %s first; using its copy", folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _model_from_entry(folder: Path, entry: dict) -> SandboxModel:
    polyhaven = {
        file_format: {
            resolution: FileBundle(
                folder / bundle["folder"], bundle["main"], tuple(bundle["include"])
            )
            for resolution, bundle in resolutions.items()
        }
        for file_format, resolutions in entry.get("polyhaven", {}).items()
    }
    return SandboxModel(
        key=entry["key"],
        name=entry["name"],
        author=entry["author"],
        license=entry["license"],
        license_label=entry["license_label"],
        counts=ModelCounts.from_dict(entry["counts"]),
        description=entry.get("description", ""),
        categories=tuple(entry.get("categories", ())),
        tags=tuple(entry.get("tags", ())),
        sketchfab_archives={
            name: folder / relative for name, relative in entry.get("sketchfab", {}).items()
        },
        polyhaven_files=polyhaven,
    )


def license_text(model_name: str, author: str, license_label: str, source: str) -> str:
    """Return the ``license.txt`` placed in a glTF archive, in Sketchfab's layout."""
    return (
        f"Model Information:\n* title: {model_name}\n* author: {author}\n* source: {source}\n\n"
        f"Model License:\n* license type: {license_label}\n"
    )


def pack_scene_archive(gltf_path: Path, destination: Path, notice: str) -> Path:
    """Write a Sketchfab glTF archive (scene.gltf, scene.bin, textures/, license.txt)
    for a separate-file glTF."""
    return write_zip(destination, scene_archive_files(gltf_path, notice))


def counts_of_glb(path: Path) -> ModelCounts:
    return gltf_counts(glb_json(path.read_bytes()))


def counts_of_gltf(path: Path) -> ModelCounts:
    return gltf_counts(json.loads(path.read_text(encoding="utf-8")))
