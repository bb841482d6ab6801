"""``meshport import PATH``: model files, folders, archives and Unity packages on disk.

Each file is checked before an importer reads it, so that an empty file or a damaged
archive gets a message about the path the user typed, not about a download.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..core.archives import find_model_file
from ..core.errors import ConfigurationError, NotFoundError, UnsupportedFileError
from ..core.formats import ARCHIVE_SUFFIXES
from .sources import FileSource, PlatformSource

# Names and first-byte kinds (``core.formats.detect_kind``) of the archives that
# ``core.archives.extract_archive`` unpacks.
ARCHIVE_KINDS = ("zip", "tar", "gzip", "bzip2", "xz")
UNITY_PACKAGE_SUFFIX = ".unitypackage"
UNITY_PLATFORM = "unity"
UNITY_ID_SEPARATOR = "::"


class ModelChoiceError(UnsupportedFileError):
    """A source contains several models. ``choices`` lists, for each, the source that
    imports it (``source``) and its path inside (``model``)."""

    def __init__(self, message: str, choices: list[dict]):
        super().__init__(message)
        self.choices = choices


def is_unity_package(source: FileSource) -> bool:
    return source.member is not None or source.path.suffix.lower() == UNITY_PACKAGE_SUFFIX


def import_local_file(path: Path, options):
    """Import the model file ``path``, the one model of the folder ``path``, or the
    one model of the zip or tar archive ``path``, on the main thread.

    Raises ``NotFoundError`` for a missing path and ``UnsupportedFileError`` for an
    empty file, a damaged archive, or a folder or archive with no model or several.
    """
    from ..blender import service

    if not path.exists():
        raise NotFoundError(f"{path}: no such file. Check the path and try again.")
    if path.is_dir():
        model = find_model_file(path, label=str(path), container="folder")
        check_not_empty(model)
        return service.import_file(model, options, root=path)

    check_not_empty(path)
    return service.import_file(path, options)


def check_not_empty(path: Path) -> None:
    """Raise ``UnsupportedFileError`` when ``path`` is a file of 0 bytes."""
    if path.stat().st_size:
        return
    if path.suffix.lower() == UNITY_PACKAGE_SUFFIX:
        advice = "Export or download the package again."
    elif _archive_suffix(path):
        advice = "Create it again, or import the model file itself."
    else:
        advice = "Export the model again from the application that made it."
    raise UnsupportedFileError(
        f"{path}: the file is empty (0 bytes), so there is nothing to import. {advice}"
    )


def _archive_suffix(path: Path) -> str:
    name = path.name.lower()
    return next((suffix for suffix in ARCHIVE_SUFFIXES if name.endswith(suffix)), "")


# Unity packages


def unity_package_source(source: FileSource, settings) -> tuple[object, PlatformSource]:
    """Return the settings and ``unity:`` source that import the package's model
    through the Unity platform: the model ``source.member`` names, else the only one.

    The settings name the package's folder as the Unity folder, so the package need
    not lie in a folder the platform searches. Raises ``ModelChoiceError`` for a
    package with several models and no member, and ``UnsupportedFileError`` for one
    with none or a damaged package.
    """
    from ..core.unitypackage import list_models

    path = source.path
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file. Check the path and try again.")
    check_not_empty(path)
    package = path.resolve()
    guid = source.member
    if guid is None:
        models = list_models(package)
        if not models:
            raise UnsupportedFileError(
                f"{path}: the Unity package contains no GLB, glTF, FBX or OBJ model, so "
                "there is nothing to import."
            )
        if len(models) > 1:
            roots = _unity_roots(settings)
            raise ModelChoiceError(
                f"{path}: the Unity package contains {len(models)} models, and Meshport "
                "imports one model per source. Import one of the sources listed with this error.",
                [_choice(path, package, model, roots) for model in models],
            )
        guid = models[0].guid
    package_settings = replace(settings, unity_dir=package.parent)
    return package_settings, PlatformSource(
        UNITY_PLATFORM, f"{package.name}{UNITY_ID_SEPARATOR}{guid}"
    )


def _choice(path: Path, package: Path, model, roots: list[Path]) -> dict:
    """Return the source that imports ``model``: its ``unity:`` id when the Unity
    platform finds the package by that id, else ``PATH::GUID``."""
    relative = _unity_relative_path(package, roots)
    if relative is None:
        source = f"{path}{UNITY_ID_SEPARATOR}{model.guid}"
    else:
        source = f"{UNITY_PLATFORM}:{relative}{UNITY_ID_SEPARATOR}{model.guid}"
    return {"source": source, "model": model.pathname}


def _unity_relative_path(package: Path, roots: list[Path]) -> str | None:
    """Return the package's path relative to the first root that contains it, unless
    an earlier root has a file at that path, which the platform would pick instead."""
    for root in roots:
        if package.is_relative_to(root):
            relative = package.relative_to(root).as_posix()
            first = next(other for other in roots if os.path.lexists(other / relative))
            return relative if first == root else None
    return None


def _unity_roots(settings) -> list[Path]:
    """Return the resolved folders the Unity platform searches; none when it has none."""
    from ..platforms import registry

    try:
        return registry.client_class(UNITY_PLATFORM)(settings).roots()
    except ConfigurationError:
        return []
