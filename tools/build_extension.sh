#!/bin/sh
# Build dist/meshport-<version>.zip with Blender's own extension tool and validate it.
set -eu
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
blender_ext=$("$python" -c "
import glob, importlib.util, os
root = importlib.util.find_spec('bpy').submodule_search_locations[0]
print(glob.glob(os.path.join(root, '*', 'scripts', 'addons_core', 'bl_pkg', 'cli', 'blender_ext.py'))[0])
")

python3 tools/fetch_wheels.py --check
mkdir -p dist
"$python" "$blender_ext" build --source-dir . --output-dir dist
version=$(sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
"$python" "$blender_ext" validate "dist/meshport-$version.zip"
