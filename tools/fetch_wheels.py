#!/usr/bin/env python3
"""Check the wheels in vendor/ against vendor/requirements.txt, or download them again.

    python3 tools/fetch_wheels.py                      # check: each file present, sha256 listed
    .venv/bin/python tools/fetch_wheels.py --download  # download every wheel from PyPI, check it

The check needs only the standard library. ``--download`` runs ``pip download`` for
each wheel, with the Python version and platform tag of the file it replaces, and
copies a file into vendor/ only when its sha256 is one listed for that distribution.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "vendor"
REQUIREMENTS = VENDOR / "requirements.txt"

# The binary wheels: their platform tags for each Blender platform that has them (see
# vendor/requirements.txt), then the (Python version, platform tag) of each file. Every
# other distribution is one pure-Python wheel. Files are matched to pins by sha256.
PLATFORM_TAGS = {
    "linux-x64": {"cryptography": "manylinux_2_28_x86_64", "cffi": "manylinux2014_x86_64"},
    "windows-x64": {"cryptography": "win_amd64", "cffi": "win_amd64"},
    "macos-arm64": {"cryptography": "macosx_11_0_arm64", "cffi": "macosx_11_0_arm64"},
}
BINARY_TARGETS = {
    "cryptography": [("3.11", tags["cryptography"]) for tags in PLATFORM_TAGS.values()],
    "cffi": [
        (python, tags["cffi"]) for tags in PLATFORM_TAGS.values() for python in ("3.11", "3.13")
    ],
}
PURE_TARGET = [("3.11", "any")]

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)$")
HASH = re.compile(r"--hash=sha256:(?P<sha>[0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    """One distribution of vendor/requirements.txt with the sha256 of each file."""

    name: str
    version: str
    marker: str
    hashes: tuple[str, ...]

    @property
    def key(self) -> str:
        return canonical_name(self.name)

    @property
    def targets(self) -> list[tuple[str, str]]:
        return BINARY_TARGETS.get(self.key, PURE_TARGET)


def canonical_name(name: str) -> str:
    """Return a distribution name normalized as PEP 503 does (``jaraco_classes`` and
    ``jaraco.classes`` are the same distribution)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = REQUIREMENTS) -> list[Pin]:
    """Parse the requirements file: one ``name==version [; marker]`` per entry, with
    ``--hash`` options on continuation lines."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pins = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = line.split("--hash", 1)[0]
        specifier, _, marker = requirement.partition(";")
        match = PIN.match(specifier.strip())
        if match is None:
            raise ValueError(f"{path}: cannot parse the line {line!r}; write name==version")
        hashes = tuple(found["sha"] for found in HASH.finditer(line))
        pins.append(Pin(match["name"], match["version"], marker.strip(), hashes))
    return pins


def wheel_name_and_version(path: Path) -> tuple[str, str]:
    """Return the canonical distribution name and version from a wheel's file name."""
    distribution, version = path.name.split("-")[:2]
    return canonical_name(distribution), version


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_problems(pins: list[Pin], folder: Path = VENDOR) -> list[str]:
    """Return one sentence per mismatch between ``folder`` and the pins."""
    problems = []
    wheels = sorted(folder.glob("*.whl"))
    claimed: set[Path] = set()

    for pin in pins:
        if len(pin.hashes) != len(pin.targets):
            problems.append(
                f"{pin.name}=={pin.version}: {len(pin.hashes)} hashes listed but "
                f"{len(pin.targets)} wheels expected; update BINARY_TARGETS or the hashes"
            )
        files = [path for path in wheels if wheel_name_and_version(path) == (pin.key, pin.version)]
        claimed.update(files)
        found = {sha256_of(path): path for path in files}
        for path in files:
            if sha256_of(path) not in pin.hashes:
                problems.append(f"{path.name}: sha256 is not listed for {pin.name}=={pin.version}")
        for sha in pin.hashes:
            if sha not in found:
                problems.append(f"{pin.name}=={pin.version}: no file with sha256 {sha[:12]}...")

    for path in wheels:
        if path not in claimed:
            problems.append(f"{path.name}: not listed in {REQUIREMENTS.name}")
    return problems


def pip_download(pin: Pin, python_version: str, platform: str, destination: Path) -> Path:
    """Download one wheel with pip into the empty folder ``destination``; return it."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        python_version,
        "--platform",
        platform,
        "--dest",
        str(destination),
        f"{pin.name}=={pin.version}",
    ]
    subprocess.run(command, check=True)
    downloaded = list(destination.glob("*.whl"))
    if len(downloaded) != 1:
        raise RuntimeError(f"pip download of {pin.name}=={pin.version} wrote {downloaded}")
    return downloaded[0]


def download_all(pins: list[Pin]) -> list[str]:
    """Download every pinned wheel and copy each one whose sha256 is listed into
    vendor/. Return one sentence per wheel that did not match."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="meshport-wheels-") as scratch:
        downloads = [(pin, target) for pin in pins for target in pin.targets]
        for index, (pin, (python_version, platform)) in enumerate(downloads):
            destination = Path(scratch) / str(index)
            destination.mkdir()
            wheel = pip_download(pin, python_version, platform, destination)
            if sha256_of(wheel) not in pin.hashes:
                problems.append(f"{wheel.name} from PyPI: sha256 {sha256_of(wheel)} is not listed")
                continue
            shutil.copy2(wheel, VENDOR / wheel.name)
            print(f"vendor/{wheel.name}: downloaded, sha256 matches")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--download", action="store_true", help="download every wheel from PyPI, then check"
    )
    arguments = parser.parse_args()

    pins = read_pins()
    problems = download_all(pins) if arguments.download else []
    problems += find_problems(pins)

    for problem in problems:
        print(f"vendor/{problem}", file=sys.stderr)
    if problems:
        print(
            "Run `.venv/bin/python tools/fetch_wheels.py --download` to fetch the wheels "
            "again, or fix vendor/requirements.txt.",
            file=sys.stderr,
        )
        return 1
    print(f"vendor/: {sum(len(pin.hashes) for pin in pins)} wheels match {REQUIREMENTS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
