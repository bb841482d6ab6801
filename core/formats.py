"""Recognise model, image and archive files by their first bytes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .errors import DownloadError

log = logging.getLogger(__name__)

MAGIC = {
    "glb": (b"glTF",),
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "fbx": (b"Kaydara FBX Binary",),
    "gzip": (b"\x1f\x8b",),
    "bzip2": (b"BZh",),
    "xz": (b"\xfd7zXZ\x00",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "ktx2": (b"\xabKTX 20\xbb\r\n\x1a\n",),
}

MODEL_SUFFIXES = {".glb": "glb", ".gltf": "gltf", ".fbx": "fbx", ".obj": "obj"}
# Names of the archives Meshport extracts, each suffix in lower case.
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")

# Texture formats that Blender's image loader or the glTF importer read.
IMAGE_SUFFIXES = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".tga", ".tif", ".tiff", ".bmp", ".psd",
        ".exr", ".hdr", ".gif", ".dds", ".webp", ".ktx2",
    }
)  # fmt: skip

# First bytes of common image files. TGA has none, so a file without one of these
# still needs the image loader's verdict.
IMAGE_MAGIC = (
    MAGIC["png"] + MAGIC["jpeg"] + MAGIC["ktx2"]
    + (b"BM", b"GIF8", b"II*\x00", b"MM\x00*", b"8BPS", b"DDS ", b"v/1\x01", b"#?RADIANCE")
)  # fmt: skip


# A POSIX (ustar) or GNU tar header carries "ustar" at byte 257 of its first block.
TAR_MAGIC_OFFSET = 257
TAR_MAGIC = b"ustar"
COMPRESSED_TAR_KINDS = ("gzip", "bzip2", "xz")


def check_magic(path: Path, kind: str, *, label: str) -> None:
    """Raise ``DownloadError`` unless ``path`` starts the way a ``kind`` file does.

    ``gltf`` must parse as a JSON object; ``obj`` and ``any`` skip the check.
    """
    with open(path, "rb") as handle:
        head = handle.read(64)
    if kind == "gltf":
        _check_json(path, label)
        return
    prefixes = MAGIC.get(kind)
    if prefixes is None:
        return
    if not any(head.startswith(prefix) for prefix in prefixes):
        raise DownloadError(
            f"{label}: the file is not a {kind.upper()} file (it starts with "
            f"{describe_head(head)}). The server may have sent an error page; try again."
        )


def detect_kind(path: Path) -> str | None:
    """Return the ``MAGIC`` key whose bytes start ``path``, ``"tar"`` for an
    uncompressed tar archive, or None when nothing matches."""
    with open(path, "rb") as handle:
        head = handle.read(TAR_MAGIC_OFFSET + len(TAR_MAGIC))
    # The tar test comes first because a tar file starts with its first member's
    # name, which may itself begin with "PK" or "glTF".
    if head[TAR_MAGIC_OFFSET:].startswith(TAR_MAGIC):
        return "tar"
    for kind, prefixes in MAGIC.items():
        if any(head.startswith(prefix) for prefix in prefixes):
            return kind
    return None


def describe_head(head: bytes) -> str:
    """Describe the first bytes of a file for a message that reads "it starts with ...":
    printable text is quoted, anything else is shown as hex bytes."""
    text = head[:16]
    if not text:
        return "nothing: the file is empty"
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        decoded = ""
    if decoded and all(char.isprintable() or char in "\t\r\n" for char in decoded):
        shown = decoded.replace("\r", " ").replace("\n", " ").replace("\t", " ")
        return f"the text '{shown}'"
    return "the bytes " + " ".join(f"{byte:02x}" for byte in text)


def _check_json(path: Path, label: str) -> None:
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise DownloadError(f"{label}: the .gltf file is not valid JSON ({error}).") from error
    if not isinstance(data, dict):
        raise DownloadError(f"{label}: the .gltf file is not a JSON object.")
