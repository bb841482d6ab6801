"""Models made from the real files of a sample folder (``MESHPORT_SAMPLE_ASSETS``).

Every importable model file in the folder, at any depth, becomes one Sketchfab model:

- a GLB is offered as ``glb``, and as a glTF archive holding ``scene.glb``, as some
  Sketchfab archives do;
- a separate-file glTF is packed as the glTF archive (``scene.gltf``, ``scene.bin``,
  ``textures/``, ``license.txt``);
- a binary FBX, and an OBJ with its material library, are packed into the archive
  as uploaded, since the sandbox does not convert them.

ASCII FBX and FBX older than 7.1 are skipped: Blender cannot import them. Sample
files are not offered on Poly Haven, because Poly Haven lists every asset as CC0
and most sample files carry other licences.

Author and licence come from the folder's ``MANIFEST.md`` table when it has a row
for the file (columns: file, bytes, source, licence); the author is the source
repository there. Packed archives are written under ``pack_dir``, named after the
source file's path, size and modification time, so later runs reuse them.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from .library import SandboxModel, license_text, pack_scene_archive
from .packing import (
    OLDEST_IMPORTABLE_FBX,
    ModelCounts,
    fbx_binary_version,
    glb_json,
    gltf_counts,
    gltf_dependencies,
    obj_companions,
    obj_counts,
    slug_of,
    stable_uid,
    write_zip,
)

log = logging.getLogger(__name__)

UNKNOWN_AUTHOR = "unknown author"
UNKNOWN_LICENSE = "unknown licence: see the sample folder"
FORMAT_NAMES = {".glb": "GLB", ".gltf": "glTF", ".fbx": "FBX", ".obj": "OBJ"}


def sample_models(sample_dir: Path, pack_dir: Path) -> list[SandboxModel]:
    """Return a model for each importable file under ``sample_dir``."""
    if not sample_dir.is_dir():
        log.warning(
            "sample folder %s does not exist; serving the generated models only", sample_dir
        )
        return []
    notes = read_manifest_notes(sample_dir / "MANIFEST.md")
    models = []
    for path in sorted(sample_dir.rglob("*")):
        relative = path.relative_to(sample_dir).as_posix()
        maker = MODEL_MAKERS.get(path.suffix.lower())
        if maker is None or not path.is_file():
            continue
        source, license_label = notes.get(relative, (UNKNOWN_AUTHOR, UNKNOWN_LICENSE))
        model = maker(path, relative, source, license_label, pack_dir)
        if model is not None:
            models.append(model)
    log.info("serving %d sample files from %s", len(models), sample_dir)
    return models


def read_manifest_notes(manifest: Path) -> dict[str, tuple[str, str]]:
    """Return relative file path -> (source repository, licence text) from the rows
    of a Markdown table whose first column names the file."""
    if not manifest.is_file():
        return {}
    notes = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0] or set(cells[0]) <= {"-", ":"}:
            continue
        first_file = cells[0].split(",")[0].strip().strip("`")
        repository = cells[2].split(" @")[0].strip() or UNKNOWN_AUTHOR
        notes[first_file] = (repository, cells[3])
    return {path: _resolve_reference(notes, note) for path, note in notes.items()}


def _resolve_reference(notes: dict[str, tuple[str, str]], note: tuple[str, str]):
    """Replace a licence written as "as Fox.glb" with that file's own note."""
    licence = note[1]
    if not licence.startswith("as "):
        return note
    named = licence[3:].strip()
    for path, other in notes.items():
        if path.rsplit("/", 1)[-1] == named and not other[1].startswith("as "):
            return other
    return note


def license_slug(text: str) -> str:
    """Map a licence text to the Sketchfab slug a model must carry to honour it:
    the strictest Creative Commons licence named, or "" when none is."""
    upper = text.upper().replace(" ", "-")
    if "CC-BY-SA" in upper:
        return "by-sa"
    if "CC-BY" in upper:
        return "by"
    if "CC0" in upper:
        return "cc0"
    return ""


def _model(path: Path, relative: str, source: str, license_label: str, **fields) -> SandboxModel:
    stem = path.stem
    words = re.sub(r"[_\s]+", " ", stem).strip()
    name = f"{words} ({FORMAT_NAMES[path.suffix.lower()]})"
    return SandboxModel(
        key=f"sample_{slug_of(relative)}",
        name=name,
        author=source,
        license=license_slug(license_label),
        license_label=license_label,
        description=f"Sample file {relative} from {source}. Licence: {license_label}.",
        tags=("sample", path.suffix.lower().lstrip("."), *slug_of(stem).split("_")),
        **fields,
    )


def _pack_path(pack_dir: Path, path: Path, relative: str) -> Path:
    status = path.stat()
    identity = stable_uid(f"{relative}:{status.st_size}:{status.st_mtime_ns}")
    return pack_dir / f"{slug_of(path.stem)}-{identity}.zip"


def _notice(path: Path, source: str, license_label: str) -> str:
    return license_text(path.stem, source, license_label, source)


def _glb_model(path, relative, source, license_label, pack_dir) -> SandboxModel | None:
    try:
        counts = gltf_counts(glb_json(path.read_bytes()))
    except ValueError as error:
        log.warning("skipped %s: %s", relative, error)
        return None
    archive = _pack_path(pack_dir, path, relative)
    if not archive.is_file():
        notice = _notice(path, source, license_label).encode()
        write_zip(archive, {"scene.glb": path, "license.txt": notice})
    return _model(
        path,
        relative,
        source,
        license_label,
        counts=counts,
        sketchfab_archives={"glb": path, "gltf": archive},
    )


def _gltf_model(path, relative, source, license_label, pack_dir) -> SandboxModel | None:
    try:
        counts = gltf_counts(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, IndexError) as error:
        log.warning("skipped %s: not a readable .gltf file (%s)", relative, error)
        return None
    missing = [name for name in gltf_dependencies(path) if not (path.parent / name).is_file()]
    if missing:
        log.warning("skipped %s: the files it names are missing (%s)", relative, ", ".join(missing))
        return None
    archive = _pack_path(pack_dir, path, relative)
    if not archive.is_file():
        pack_scene_archive(path, archive, _notice(path, source, license_label))
    return _model(
        path, relative, source, license_label, counts=counts, sketchfab_archives={"gltf": archive}
    )


def _fbx_model(path, relative, source, license_label, pack_dir) -> SandboxModel | None:
    version = fbx_binary_version(path)
    if version is None:
        log.warning("skipped %s: ASCII FBX, which Blender cannot import", relative)
        return None
    if version < OLDEST_IMPORTABLE_FBX:
        log.warning(
            "skipped %s: FBX version %d, and Blender imports %d or later only",
            relative,
            version,
            OLDEST_IMPORTABLE_FBX,
        )
        return None
    from .scenes import count_fbx

    try:
        counts = count_fbx(path)
    except RuntimeError as error:
        log.warning("skipped %s: Blender cannot import it (%s)", relative, error)
        return None
    return _packed_upload(path, relative, source, license_label, pack_dir, counts, [])


def _obj_model(path, relative, source, license_label, pack_dir) -> SandboxModel | None:
    counts: ModelCounts = obj_counts(path)
    companions = obj_companions(path)
    return _packed_upload(path, relative, source, license_label, pack_dir, counts, companions)


def _packed_upload(path, relative, source, license_label, pack_dir, counts, companions):
    archive = _pack_path(pack_dir, path, relative)
    if not archive.is_file():
        files = {path.name: path}
        files.update({_member_name(item, path.parent): item for item in companions})
        files["license.txt"] = _notice(path, source, license_label).encode()
        write_zip(archive, files)
    return _model(
        path, relative, source, license_label, counts=counts, sketchfab_archives={"gltf": archive}
    )


def _member_name(item: Path, folder: Path) -> str:
    """Keep a companion's path relative to the model, or its bare name when it lies
    outside the model's folder."""
    try:
        return item.relative_to(folder).as_posix()
    except ValueError:
        return item.name


MODEL_MAKERS = {
    ".glb": _glb_model,
    ".gltf": _gltf_model,
    ".fbx": _fbx_model,
    ".obj": _obj_model,
}
