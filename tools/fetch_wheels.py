"""Check the wheels in vendor/ against vendor/wheels.txt, or download them again.

    python3 tools/fetch_wheels.py --check     # every listed wheel present, sha256 matches
    python3 tools/fetch_wheels.py --download  # fetch missing or damaged wheels from PyPI
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "vendor"
ENTRY = re.compile(r"^# (?P<file>\S+\.whl)\n(?P<spec>\S+)==(?P<version>\S+) --hash=sha256:(?P<sha>[0-9a-f]{64})$", re.M)


def listed_wheels() -> list[dict[str, str]]:
    text = (VENDOR / "wheels.txt").read_text()
    return [match.groupdict() for match in ENTRY.finditer(text)]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damaged(entry: dict[str, str]) -> str | None:
    path = VENDOR / entry["file"]
    if not path.is_file():
        return f"{entry['file']}: missing"
    if sha256_of(path) != entry["sha"]:
        return f"{entry['file']}: sha256 does not match vendor/wheels.txt"
    return None


def download(entry: dict[str, str]) -> None:
    """Fetch one wheel with pip for the exact platform and Python tags in its name."""
    name = entry["file"][:-4]
    _dist, _version, python_tag, abi_tag, platform_tag = name.split("-")[-5:]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-d", str(VENDOR), f"{entry['spec']}=={entry['version']}"]
    if platform_tag != "any":
        version = python_tag.removeprefix("cp")
        command += ["--platform", platform_tag.split(".")[-1], "--python-version",
                    f"{version[0]}.{version[1:]}", "--implementation", "cp", "--abi", abi_tag]
    subprocess.run(command, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--download", action="store_true", help="fetch missing or damaged wheels")
    parser.add_argument("--check", action="store_true", help="only check (the default)")
    arguments = parser.parse_args()

    entries = listed_wheels()
    problems = [(entry, damaged(entry)) for entry in entries]
    problems = [(entry, reason) for entry, reason in problems if reason]
    if arguments.download:
        for entry, _reason in problems:
            download(entry)
        problems = [(entry, damaged(entry)) for entry in entries if damaged(entry)]
    for _entry, reason in problems:
        print(f"vendor/{reason}; run: python3 tools/fetch_wheels.py --download", file=sys.stderr)
    listed = {entry["file"] for entry in entries}
    extra = sorted(p.name for p in VENDOR.glob("*.whl") if p.name not in listed)
    for name in extra:
        print(f"vendor/{name}: not listed in vendor/wheels.txt", file=sys.stderr)
    return 1 if problems or extra else 0


if __name__ == "__main__":
    sys.exit(main())
