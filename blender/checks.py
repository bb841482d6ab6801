"""Checks before an import: ``core.inspect``, given facts only the running Blender can
report (the glTF extensions its importer supports, whether its Draco library exists)."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import bpy

from ..core.inspect import ModelReport, inspect_model

log = logging.getLogger(__name__)

GLTF_ADDON = "io_scene_gltf2"
GLTF_READER_MODULE = f"{GLTF_ADDON}.io.imp.gltf2_io_gltf"
# The module holding ``dll_exists`` moved between Blender versions.
DRACO_MODULES = (
    f"{GLTF_ADDON}.io.com.draco",  # Blender 4.3 and later
    f"{GLTF_ADDON}.io.com.gltf2_io_draco_compression_extension",  # Blender 4.2
)


def check_before_import(path: Path, *, root: Path | None = None) -> ModelReport:
    """Run the plain file checks of ``core.inspect`` on ``path``.

    Raises ``UnsupportedFileError`` for what Blender's importer would reject (a
    required glTF extension it lacks, ASCII FBX, FBX before 7.1, damaged files).
    """
    return inspect_model(
        path,
        supported_extensions=supported_gltf_extensions(),
        draco_available=draco_available(),
        root=root,
    )


def supported_gltf_extensions() -> frozenset[str] | None:
    """Return the glTF extensions the installed glTF importer can read, including
    those that other add-ons register with it. Returns None when the importer cannot
    be asked, so the comparison is skipped."""
    try:
        reader = importlib.import_module(GLTF_READER_MODULE)
    except ImportError:
        log.info("the glTF importer module %s was not found", GLTF_READER_MODULE)
        return None
    settings = {"import_user_extensions": _user_extensions(), "loglevel": logging.CRITICAL}
    try:
        gltf_reader = reader.glTFImporter("", settings)
    except Exception:
        log.warning("could not ask the glTF importer for its extensions", exc_info=True)
        return None
    try:
        return frozenset(gltf_reader.extensions_managed)
    finally:
        # The reader adds console handlers to the "glTFImporter" logger, and flush()
        # removes them again.
        gltf_reader.log.flush()


def _user_extensions() -> list:
    """Instantiate the import hooks of enabled add-ons, as the glTF importer does."""
    hooks = []
    for addon in bpy.context.preferences.addons:
        addon_name = addon.module
        module = sys.modules.get(addon_name)
        constructor = getattr(module, "glTF2ImportUserExtension", None)
        if constructor is None:
            continue
        try:
            hooks.append(constructor())
        except Exception:
            log.warning("glTF import hook of %s failed to start", addon_name, exc_info=True)
    return hooks


def draco_available() -> bool | None:
    """Return whether the glTF importer's Draco library is present; None if unknown."""
    for module_name in DRACO_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            return bool(module.dll_exists(quiet=True))
        except Exception:
            log.warning("checking for the Draco library failed", exc_info=True)
            return None
    return None
