"""Use the extension with a Sketchfab key, as an artist would, and print one JSON line
of findings.

The caller points HOME, BLENDER_USER_RESOURCES, TMPDIR and the XDG folders at new
directories. This script installs the extension, stores the key through the add-on's
own operator, searches and imports from a fake Sketchfab with it, and saves the
preferences and a .blend.

    python secret_session.py ZIP API_BASE KEY UID OUT.blend
"""

import json
import sys
import time

import bpy

MODULE = "bl_ext.user_default.meshport"


def main() -> None:
    zip_path, api_base, key, uid, blend_path = sys.argv[1:6]
    findings = {}

    bpy.context.preferences.system.use_online_access = True
    bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True
    )
    preferences = bpy.context.preferences.addons[MODULE].preferences
    preferences.sketchfab_url = api_base

    findings["set_key"] = list(bpy.ops.meshport.set_key(platform="sketchfab", key=key))
    bpy.ops.wm.save_userpref()

    service = sys.modules[f"{MODULE}.blender.service"]
    store = service.credential_store()
    findings["store_available"] = store.available
    findings["store_backend"] = store.backend_name()
    runtime = sys.modules[f"{MODULE}.blender.runtime"]
    models = sys.modules[f"{MODULE}.core.models"]
    settings = service.settings_from_preferences(bpy.context)
    findings["key_loaded"] = bool(settings.platform("sketchfab").key)

    runner = runtime.get_runner()
    results = []
    search = service.start_search(
        runner,
        settings,
        "sketchfab",
        models.SearchQuery(text="box"),
        on_done=lambda job, page: results.append(len(page.results)),
        on_error=None,
    )
    runner.wait(search, timeout=120)
    imported = []
    job = service.start_import(
        runner,
        settings,
        "sketchfab",
        uid,
        on_done=lambda job, result: imported.append(len(result.meshes)),
        on_error=lambda job, error: findings.setdefault("import_error", error.message),
    )
    runner.wait(job, timeout=300)
    findings["search_results"] = results
    findings["imported_meshes"] = imported
    findings["data_dir"] = str(settings.data_dir)

    bpy.ops.wm.save_as_mainfile(filepath=blend_path)
    runtime.stop()
    time.sleep(0.2)
    print("FINDINGS " + json.dumps(findings))


if __name__ == "__main__":
    main()
