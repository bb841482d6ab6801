#!/bin/sh
# Build dist/meshport-<version>.zip with Blender's own extension tool and validate it.
set -eu
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
blender_ext=$("$python" -c "import bpy, os; print(os.path.join(os.path.dirname(bpy.__file__), bpy.app.version_string[:3], 'scripts/addons_core/bl_pkg/cli/blender_ext.py'))" 2>/dev/null | tail -n 1)

python3 tools/fetch_wheels.py --check
mkdir -p dist
"$python" "$blender_ext" build --source-dir . --output-dir dist
version=$(sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
"$python" "$blender_ext" validate "dist/meshport-$version.zip"
