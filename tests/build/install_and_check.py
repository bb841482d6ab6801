"""Run inside a fresh Python with BLENDER_USER_RESOURCES set: install the extension
zip as a user would, exercise it, and print one JSON line of findings.

    python install_and_check.py ZIP [SAMPLE_GLB SAMPLE_FBX]
"""

import json
import sys
from pathlib import Path

import bpy

MODULE = "bl_ext.user_default.meshport"


def enabled_modules() -> set[str]:
    return {addon.module for addon in bpy.context.preferences.addons}


def import_samples(module, paths: list[str]) -> list[dict]:
    service = sys.modules[f"{MODULE}.blender.service"]
    results = []
    for path in paths:
        result = service.import_file(Path(path))
        results.append({"path": path, "meshes": len(result.meshes), "objects": len(result.objects)})
    return results


def main() -> None:
    zip_path = sys.argv[1]
    samples = sys.argv[2:]
    findings = {"blender": bpy.app.version_string}

    bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True
    )
    findings["enabled_after_install"] = MODULE in enabled_modules()
    module = sys.modules.get(MODULE)
    findings["registered_as"] = getattr(module, "__name__", None)
    findings["sidebar_panel"] = hasattr(bpy.types, "MESHPORT_PT_sidebar")

    import keyring  # noqa: F401  (from the bundled wheels)
    import pyrate_limiter  # noqa: F401
    import requests_cache  # noqa: F401

    findings["keyring_from"] = keyring.__file__
    findings["user_data_dir"] = bpy.utils.extension_path_user(MODULE, create=True)

    bpy.ops.preferences.addon_disable(module=MODULE)
    findings["enabled_after_disable"] = MODULE in enabled_modules()
    findings["panel_after_disable"] = hasattr(bpy.types, "MESHPORT_PT_sidebar")
    bpy.ops.preferences.addon_enable(module=MODULE)
    findings["enabled_after_enable"] = MODULE in enabled_modules()
    findings["panel_after_enable"] = hasattr(bpy.types, "MESHPORT_PT_sidebar")

    if samples:
        findings["imports"] = import_samples(module, samples)
    print("FINDINGS " + json.dumps(findings))


if __name__ == "__main__":
    main()
