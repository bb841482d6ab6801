"""Recognise model and archive files by their first bytes."""

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
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "ktx2": (b"\xabKTX 20\xbb\r\n\x1a\n",),
}

MODEL_SUFFIXES = {".glb": "glb", ".gltf": "gltf", ".fbx": "fbx", ".obj": "obj"}


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


def describe_head(head: bytes) -> str:
    text = head[:16]
    if text.lstrip().startswith((b"<", b"{")):
        return repr(text.decode("utf-8", "replace")) + ", which looks like HTML, XML or JSON"
    return repr(text)


def _check_json(path: Path, label: str) -> None:
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise DownloadError(f"{label}: the .gltf file is not valid JSON ({error}).") from error
    if not isinstance(data, dict):
        raise DownloadError(f"{label}: the .gltf file is not a JSON object.")
