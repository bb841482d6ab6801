"""Run inside a fresh Python with BLENDER_USER_RESOURCES set: install the extension
zip as a user would, exercise it, and print one JSON line of findings.

    python install_and_check.py ZIP [MODEL_FILE...]

Each MODEL_FILE is imported through the add-on's own ``blender.service.import_file``.
"""

import importlib
import json
import sys
from pathlib import Path

import bpy

MODULE = "bl_ext.user_default.meshport"
BUNDLED_MODULES = ("keyring", "requests_cache", "pyrate_limiter", "redis")


def enabled_modules() -> set[str]:
    return {addon.module for addon in bpy.context.preferences.addons}


def addon_state() -> dict:
    return {
        "enabled": MODULE in enabled_modules(),
        "sidebar_panel": hasattr(bpy.types, "MESHPORT_PT_sidebar"),
        "set_key_operator": hasattr(bpy.types, "MESHPORT_OT_set_key"),
    }


def bundled_imports() -> dict:
    """Import the libraries the add-on bundles and return the file each came from."""
    return {name: importlib.import_module(name).__file__ for name in BUNDLED_MODULES}


def keyring_findings() -> dict:
    """Return what the add-on's credential store sees, through the installed add-on."""
    credentials = importlib.import_module(f"{MODULE}.core.credentials")
    store = credentials.CredentialStore()
    return {"available": store.available, "backend": store.backend_name()}


def import_models(paths: list[str]) -> list[dict]:
    service = sys.modules[f"{MODULE}.blender.service"]
    results = []
    for path in paths:
        result = service.import_file(Path(path))
        results.append({"path": path, "meshes": len(result.meshes), "objects": len(result.objects)})
    return results


def main() -> None:
    zip_path = sys.argv[1]
    models = sys.argv[2:]
    findings = {"blender": bpy.app.version_string}

    bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True
    )
    findings["after_install"] = addon_state()
    module = sys.modules.get(MODULE)
    findings["registered_as"] = getattr(module, "__name__", None)
    findings["preferences_resolved"] = (
        MODULE in bpy.context.preferences.addons
        and bpy.context.preferences.addons[MODULE].preferences is not None
    )
    findings["imported_from"] = bundled_imports()
    findings["keyring"] = keyring_findings()
    findings["user_data_dir"] = bpy.utils.extension_path_user(MODULE, create=True)

    bpy.ops.preferences.addon_disable(module=MODULE)
    findings["after_disable"] = addon_state()
    bpy.ops.preferences.addon_enable(module=MODULE)
    findings["after_enable"] = addon_state()

    if models:
        findings["imports"] = import_models(models)
    print("FINDINGS " + json.dumps(findings))


if __name__ == "__main__":
    main()
