"""The add-on's package name and the folders where it keeps user data."""

from __future__ import annotations

import logging
from pathlib import Path

import bpy

log = logging.getLogger(__name__)

# The package this sub-package belongs to: "bl_ext.<repository>.meshport" when Blender
# loads the extension, "meshport" when tests or the command line load the repository.
BASE_PACKAGE = __package__.rpartition(".")[0]
EXTENSION_ID = BASE_PACKAGE.rpartition(".")[2]

# The folder of an extension's user data in Blender's default user repository,
# relative to the EXTENSIONS user resource folder.
DEFAULT_REPOSITORY_DATA = f".user/user_default/{EXTENSION_ID}"


def user_data_dir() -> Path:
    """Return the folder for caches, logs and downloads, creating it.

    Loaded as an extension, that is Blender's ``extension_path_user``. Loaded
    otherwise (the command line, tests), it is the folder Blender would use for the
    extension in the default user repository, under ``BLENDER_USER_RESOURCES`` when
    that variable is set.
    """
    try:
        return Path(bpy.utils.extension_path_user(BASE_PACKAGE, create=True))
    except ValueError:
        folder = bpy.utils.user_resource("EXTENSIONS", path=DEFAULT_REPOSITORY_DATA, create=True)
        return Path(folder)


def addon_preferences(context=None):
    """Return the add-on's preferences, or None when the add-on is not enabled in
    Blender's preferences (for example on the command line)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(BASE_PACKAGE)
    return addon.preferences if addon is not None else None
