"""Import a model file into the open scene with Blender's own importers.

Runs on the main thread. The new objects are found by comparing ``bpy.data`` before
and after the import. They go into a collection named after the asset, their roots
move to the 3D cursor, and each object records where it came from. The images are
packed (or copied next to the .blend). When the importer fails, everything it
created is removed again and the downloaded file is kept.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bpy

from ..core.errors import ImportFailedError, MeshportError, UnsupportedFileError
from ..core.formats import MODEL_SUFFIXES
from ..core.models import Asset
from . import images, provenance
from .checks import check_before_import
from .datablocks import DataSnapshot, remove_created

log = logging.getLogger(__name__)

FORMAT_LABELS = {"glb": "glTF", "gltf": "glTF", "fbx": "FBX", "obj": "OBJ"}

# Every option is passed explicitly so that a change of defaults in a later Blender
# cannot change what Meshport imports. Each one exists in Blender 4.2 and 4.5.
GLTF_OPTIONS = {
    "merge_vertices": False,
    "import_shading": "NORMALS",
    "bone_heuristic": "BLENDER",
    "guess_original_bind_pose": True,
    # The bone display shape would add an extra "Icosphere" object and collection.
    "disable_bone_shape": True,
    "import_webp_texture": False,
    "export_import_convert_lighting_mode": "SPEC",
    # Meshport packs or copies images itself after the import (see images.py).
    "import_pack_images": False,
}
FBX_OPTIONS = {
    "use_manual_orientation": False,
    "global_scale": 1.0,
    "bake_space_transform": False,
    "use_custom_normals": True,
    "colors_type": "SRGB",
    "use_image_search": True,
    "use_alpha_decals": False,
    "decal_offset": 0.0,
    "use_anim": True,
    "anim_offset": 1.0,
    "use_subsurf": False,
    "use_custom_props": True,
    "use_custom_props_enum_as_string": True,
    "ignore_leaf_bones": False,
    "force_connect_children": False,
    "automatic_bone_orientation": False,
    "primary_bone_axis": "Y",
    "secondary_bone_axis": "X",
    "use_prepost_rot": True,
    "axis_forward": "-Z",
    "axis_up": "Y",
}
OBJ_OPTIONS = {
    "global_scale": 1.0,
    "clamp_size": 0.0,
    "forward_axis": "NEGATIVE_Z",
    "up_axis": "Y",
    "use_split_objects": True,
    "use_split_groups": False,
    "import_vertex_groups": False,
    "validate_meshes": True,
    "collection_separator": "",
}
# Operator (module, name) and options per file format.
IMPORTERS = {
    "glb": (("import_scene", "gltf"), GLTF_OPTIONS),
    "gltf": (("import_scene", "gltf"), GLTF_OPTIONS),
    "fbx": (("import_scene", "fbx"), FBX_OPTIONS),
    "obj": (("wm", "obj_import"), OBJ_OPTIONS),
}

# Words in an importer's error that mean the file uses something Blender cannot read,
# as opposed to a broken file or a bug.
UNSUPPORTED_MARKERS = (
    "not supported",
    "unsupported",
    "not available on this addon",
    "glTF version must be",
)
# The last line of a Python traceback: "ValueError: buffer is smaller than ...".
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


@dataclass(frozen=True)
class ImportOptions:
    """How to import: ``pack_images`` False copies images next to the .blend;
    ``collection_name`` None names the collection after the asset."""

    pack_images: bool = True
    place_at_cursor: bool = True
    collection_name: str | None = None


@dataclass(frozen=True)
class ImportResult:
    """The data-blocks one import added to the scene, by name, and their source."""

    collection_name: str
    objects: tuple[str, ...]
    meshes: tuple[str, ...]
    armatures: tuple[str, ...]
    actions: tuple[str, ...]
    images: tuple[str, ...]
    credits_line: str
    asset: Asset
    source_path: Path | None = None
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """Return a JSON-ready dict for ``bin/meshport --json``."""
        asset = asdict(self.asset)
        asset["formats"] = list(self.asset.formats)
        return {
            "collection_name": self.collection_name,
            "objects": list(self.objects),
            "meshes": list(self.meshes),
            "armatures": list(self.armatures),
            "actions": list(self.actions),
            "images": list(self.images),
            "credits_line": self.credits_line,
            "asset": asset,
            "source_path": str(self.source_path) if self.source_path else None,
            "warnings": list(self.warnings),
        }


def import_model(
    path: Path,
    options: ImportOptions = ImportOptions(),
    asset: Asset | None = None,
    *,
    root: Path | None = None,
) -> ImportResult:
    """Import the GLB, glTF, FBX or OBJ file ``path`` into the current scene.

    ``asset`` describes where the file came from (a local asset when None).
    ``root`` is the folder that the file's references must stay in (default: its
    own folder). Raises ``UnsupportedFileError`` when Blender cannot read the file
    and ``ImportFailedError`` when the importer fails or creates nothing. In both
    cases the scene is left as it was and the file stays on disk.
    """
    path = Path(path)
    asset = asset or local_asset(path)
    try:
        return _import(path, options, asset, root)
    except MeshportError as error:
        if asset.platform != "local":
            _add_asset_context(error, asset, path)
        raise


def _import(path: Path, options: ImportOptions, asset: Asset, root: Path | None) -> ImportResult:
    file_format = _file_format(path)
    report = check_before_import(path, root=root)
    _ensure_object_mode()

    snapshot = DataSnapshot.take()
    try:
        _run_importer(path, file_format)
    except RuntimeError as error:
        remove_created(snapshot)
        raise _importer_error(path, file_format, error) from error

    try:
        return _finish_import(path, file_format, snapshot, options, asset, report, root)
    except BaseException:
        remove_created(snapshot)
        raise


def _add_asset_context(error: MeshportError, asset: Asset, path: Path) -> None:
    """Add the downloaded asset's name to ``error``, whose message names only the
    file, and state that the file stays for another try."""
    label = provenance.platform_label(asset.platform)
    error.message = (
        f"{label} '{asset.name}': {error.message} The downloaded file stays in "
        f"{path.parent} for another try."
    )
    error.args = (error.message,)


def local_asset(path: Path) -> Asset:
    """Describe a file that came from no platform."""
    file_format = MODEL_SUFFIXES.get(path.suffix.lower())
    absolute = path.absolute()
    return Asset(
        platform="local",
        asset_id=str(absolute),
        name=path.stem,
        url=absolute.as_uri(),
        formats=(file_format,) if file_format else (),
    )


def _file_format(path: Path) -> str:
    file_format = MODEL_SUFFIXES.get(path.suffix.lower())
    if file_format is None:
        raise UnsupportedFileError(
            f"{path.name}: Meshport imports GLB, glTF, FBX and OBJ files, not "
            f"'{path.suffix or 'extensionless'}' files."
        )
    if path.exists() and not path.is_file():
        raise UnsupportedFileError(
            f"{path}: not a regular file (a folder, pipe or device), so there is nothing to "
            "import. Give the path of a model file."
        )
    if not path.is_file():
        raise ImportFailedError(f"{path}: the file does not exist, so there is nothing to import.")
    return file_format


def _ensure_object_mode() -> None:
    """Leave Edit, Sculpt or Pose Mode, where Blender's importers cannot run."""
    context = bpy.context
    if context.mode == "OBJECT" or context.view_layer.objects.active is None:
        return
    try:
        bpy.ops.object.mode_set(mode="OBJECT")
    except RuntimeError as error:
        raise ImportFailedError(
            f"Cannot leave {context.mode.replace('_', ' ').title()} mode before the import "
            f"({_importer_reason(error)}). Switch to Object Mode and import again."
        ) from error


def _run_importer(path: Path, file_format: str) -> None:
    (module_name, operator_name), options = IMPORTERS[file_format]
    operator = getattr(getattr(bpy.ops, module_name), operator_name)
    log.info("importing %s with bpy.ops.%s.%s", path, module_name, operator_name)
    operator(filepath=str(path), **options)


def _importer_error(path: Path, file_format: str, error: RuntimeError):
    reason = _importer_reason(error)
    label = FORMAT_LABELS[file_format]
    log.info("the %s importer failed on %s: %s", label, path, error)
    where = "Nothing was added to the scene."
    if any(marker.lower() in reason.lower() for marker in UNSUPPORTED_MARKERS):
        return UnsupportedFileError(
            f"{path.name}: Blender's {label} importer cannot read this file: {reason}. "
            f"{where} Ask the platform for another format."
        )
    return ImportFailedError(
        f"{path.name}: Blender's {label} importer failed: {reason}. {where} The Meshport "
        "log has the details."
    )


def _importer_reason(error: RuntimeError) -> str:
    """Return the importer's own sentence from the text of ``error``: the message
    after "Error: ", or the last line of a Python traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # bpy.ops appends "Location: <ops.py>:<line>", which does not describe the file.
    lines = [line for line in lines if not line.startswith("Location:")]
    if not lines:
        return "no reason given"
    if any("Traceback" in line for line in lines):
        exception_lines = [line for line in lines if EXCEPTION_LINE.match(line)]
        text = exception_lines[-1] if exception_lines else lines[-1]
    else:
        text = lines[0]
    return text.removeprefix("Error: ").rstrip(".")


def _finish_import(path, file_format, snapshot, options, asset, report, root) -> ImportResult:
    created = snapshot.created()
    objects = created["objects"]
    _check_something_arrived(path, file_format, created, report)

    name = options.collection_name or asset.name or path.stem
    collection = _collect(objects, created["collections"], name)
    if options.place_at_cursor:
        _place_roots_at_cursor(objects)
    provenance.tag_objects(objects, asset)
    line = provenance.credits_line(asset)
    provenance.add_credits_line(line)
    warnings = list(report.warnings) if report else []
    warnings += images.store_images(
        created["images"],
        pack=options.pack_images,
        folder_name=collection.name,
        root=root or path.parent,
        reported=tuple(warnings),
    )
    warnings = list(dict.fromkeys(warnings))  # a texture two materials use, once
    for warning in warnings:
        log.warning("import of %s: %s", path.name, warning)

    return ImportResult(
        collection_name=collection.name,
        objects=_names(objects),
        meshes=_names(created["meshes"]),
        armatures=_names(created["armatures"]),
        actions=_names(created["actions"]),
        images=_names(created["images"]),
        credits_line=line,
        asset=asset,
        source_path=path,
        warnings=tuple(warnings),
    )


def _check_something_arrived(path, file_format, created, report) -> None:
    label = FORMAT_LABELS[file_format]
    if not created["objects"]:
        raise ImportFailedError(
            f"{path.name}: Blender's {label} importer finished but created no objects. The "
            "file may contain no scene."
        )
    declared = report.mesh_count if report else None
    if declared and not created["meshes"]:
        raise ImportFailedError(
            f"{path.name}: the file declares {declared} mesh{'es' if declared != 1 else ''}, "
            f"but Blender's {label} importer created none (no scene node uses them). "
            "Nothing was added."
        )


def _collect(objects, importer_collections, name: str):
    """Move ``objects`` into a new collection under the scene's collection, and
    remove the collections the importer created that are left empty."""
    collection = bpy.data.collections.new(name)
    bpy.context.scene.collection.children.link(collection)
    for obj in objects:
        previous = list(obj.users_collection)
        collection.objects.link(obj)
        for other in previous:
            other.objects.unlink(obj)
    for other in importer_collections:
        if not other.objects and not other.children:
            bpy.data.collections.remove(other)
    return collection


def _place_roots_at_cursor(objects) -> None:
    """Move each root object by the cursor's location; children follow their parent."""
    offset = bpy.context.scene.cursor.location.copy()
    imported = set(objects)
    for obj in objects:
        if obj.parent is None or obj.parent not in imported:
            obj.location = obj.location + offset


def _names(blocks) -> tuple[str, ...]:
    return tuple(block.name for block in blocks)
