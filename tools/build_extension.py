#!/usr/bin/env python3
"""Build dist/meshport-<version>.zip with Blender's extension tool, validate it, and
check that it contains the add-on and its wheels and no development files.

    python3 tools/build_extension.py [--output-dir dist] [--python .venv/bin/python]

The extension tool (``blender_ext.py``) ships inside the ``bpy`` wheel, so ``--python``
names an interpreter that has ``bpy`` installed. This script needs only the standard
library.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tools"))

import fetch_wheels

# Top-level folders and files that belong to development only. Blender's build skips
# them through [build] paths_exclude_pattern; the zip is checked again here.
DEVELOPMENT_PATHS = (
    ".ci/",
    ".venv/",
    ".venv-4.2/",
    ".git/",
    "tests/",
    "tools/",
    "bin/",
    "benchmarks/",
    "docs/",
    "cli/",
    "sandbox/",
    "dist/",
    "out/",
    "build/",
    "Makefile",
    "pytest.ini",
    "vendor/requirements.txt",
)
CACHE_PARTS = ("__pycache__/", ".pytest_cache/", ".ruff_cache/", ".mypy_cache/")
FIND_BLENDER_EXT = """
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("bpy")
if spec is None:
    sys.exit("bpy is not installed in " + sys.prefix)
root = pathlib.Path(spec.submodule_search_locations[0])
found = sorted(root.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
if not found:
    sys.exit("blender_ext.py not found under " + str(root))
print(found[-1])
"""


class BuildError(Exception):
    """A check before or after Blender's build failed; the message names the check."""


def read_manifest() -> dict:
    return tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text())


def source_version() -> str:
    """Return ``VERSION`` from core/version.py without importing the package."""
    text = (REPO_ROOT / "core" / "version.py").read_text()
    match = re.search(r'^VERSION = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise BuildError('core/version.py has no line VERSION = "..."')
    return match.group(1)


def check_sources(manifest: dict) -> None:
    """Check the version, the vendored wheels and the manifest's wheel list agree."""
    if manifest["version"] != source_version():
        raise BuildError(
            f"blender_manifest.toml has version {manifest['version']} but core/version.py "
            f"has {source_version()}; make them equal"
        )
    problems = fetch_wheels.find_problems(fetch_wheels.read_pins())
    if problems:
        raise BuildError(
            "vendor/ does not match vendor/requirements.txt:\n  " + "\n  ".join(problems)
        )
    listed = {Path(path).name for path in manifest.get("wheels", [])}
    present = {path.name for path in (REPO_ROOT / "vendor").glob("*.whl")}
    if listed != present:
        raise BuildError(
            "blender_manifest.toml wheels differ from vendor/: "
            f"not listed {sorted(present - listed)}, missing files {sorted(listed - present)}"
        )


def find_blender_ext(python: str) -> Path:
    result = subprocess.run(
        [python, "-c", FIND_BLENDER_EXT], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BuildError(
            f"cannot find Blender's extension tool with {python}: {result.stderr.strip()}; "
            "run `make venv` first"
        )
    return Path(result.stdout.strip())


def run_blender_ext(python: str, blender_ext: Path, *arguments: str) -> None:
    command = [python, str(blender_ext), *arguments]
    result = subprocess.run(command, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise BuildError(f"`{' '.join(command)}` failed with exit code {result.returncode}")


def check_zip(zip_path: Path, manifest: dict) -> None:
    """Check that the zip contains the add-on and every wheel, and no development file."""
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    leaked = [
        name
        for name in names
        if name.startswith(DEVELOPMENT_PATHS)
        or any(part in name for part in CACHE_PARTS)
        or name.endswith(".pyc")
    ]
    if leaked:
        raise BuildError(f"{zip_path} contains development files: {leaked[:10]}")
    expected = ["blender_manifest.toml", "__init__.py"]
    expected += [path.removeprefix("./") for path in manifest["wheels"]]
    missing = [name for name in expected if name not in names]
    if missing:
        raise BuildError(f"{zip_path} lacks {missing}")


def build(output_dir: Path, python: str) -> Path:
    """Build, validate and check the zip; return its path."""
    manifest = read_manifest()
    check_sources(manifest)

    blender_ext = find_blender_ext(python)
    output_dir.mkdir(parents=True, exist_ok=True)
    zip_path = output_dir / f"{manifest['id']}-{manifest['version']}.zip"
    zip_path.unlink(missing_ok=True)
    run_blender_ext(
        python,
        blender_ext,
        "build",
        "--source-dir",
        str(REPO_ROOT),
        "--output-dir",
        str(output_dir),
    )
    run_blender_ext(python, blender_ext, "validate", str(zip_path))

    check_zip(zip_path, manifest)
    return zip_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=REPO_ROOT / "dist",
        help="folder for the zip (default: dist)",
    )
    parser.add_argument(
        "--python",
        default=str(REPO_ROOT / ".venv" / "bin" / "python"),
        help="a Python with bpy installed (default: .venv/bin/python)",
    )
    arguments = parser.parse_args()
    try:
        zip_path = build(arguments.output_dir.resolve(), arguments.python)
    except BuildError as error:
        print(f"build_extension: {error}", file=sys.stderr)
        return 1
    print(f"built and validated {zip_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
