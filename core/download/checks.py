"""The checks a downloaded file must pass: size, md5, magic bytes, structure, and no
HTML or XML error page in place of the file."""

from __future__ import annotations

import hashlib
import logging
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import DownloadError
from ..formats import MAGIC, check_magic, describe_head

log = logging.getLogger(__name__)

HEAD_SIZE = 512  # bytes read to recognise magic numbers and error pages

# File kinds taken from the destination's suffix when ``FileCheck.kind`` is None.
# Only suffixes whose content is unambiguous are listed: a texture named .jpg is
# often a PNG, and an .fbx may be ASCII, which the import step reports on its own.
# Kind "xml" marks formats that are XML themselves (COLLADA, SVG, X3D): for them only
# an HTML page counts as an error page.
SUFFIX_KINDS = {
    ".glb": "glb",
    ".gltf": "gltf",
    ".zip": "zip",
    ".unitypackage": "gzip",
    ".dae": "xml",
    ".svg": "xml",
    ".x3d": "xml",
}

HTML_TYPES = ("text/html", "application/xhtml+xml")
XML_TYPES = ("text/xml", "application/xml")
HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
XML_STARTS = (b"<?xml", b"<error")


@dataclass(frozen=True)
class FileCheck:
    """The checks a finished file must pass; a ``None`` field skips its check."""

    size: int | None = None
    md5: str | None = None
    kind: str | None = None  # a key of formats.MAGIC, "gltf" (JSON) or "any"


def check_head(
    head: bytes, kind: str | None, content_type: str = "", *, label: str
) -> None:
    """Raise ``DownloadError`` when the first bytes of a file show an HTML or XML
    error page, or do not start the way a ``kind`` file does."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    media_type = content_type.split(";")[0].strip().lower()
    if _is_error_page(stripped, media_type, kind):
        raise DownloadError(
            f"{label}: the server sent an HTML or XML page ({media_type or 'no Content-Type'}; "
            f"it starts with {describe_head(stripped[:32])}) instead of the file. The link "
            "may have expired or need a sign-in; try the download again."
        )
    if kind == "gltf" and not stripped.startswith(b"{"):
        raise DownloadError(
            f"{label}: the file is not glTF JSON (it starts with {describe_head(head[:16])}). "
            "Try the download again."
        )
    prefixes = MAGIC.get(kind or "")
    if prefixes and not any(head.startswith(prefix) for prefix in prefixes):
        raise DownloadError(
            f"{label}: the file is not a {kind.upper()} file (it starts with "
            f"{describe_head(head[:16])}). The server may have sent an error page; try again."
        )


def _is_error_page(stripped: bytes, media_type: str, kind: str | None) -> bool:
    if not stripped.startswith(b"<"):
        return False
    start = stripped[:16].lower()
    if media_type in HTML_TYPES or start.startswith(HTML_STARTS):
        return True
    return kind != "xml" and (media_type in XML_TYPES or start.startswith(XML_STARTS))


def verify_file(path: Path, check: FileCheck, *, label: str, url: str = "") -> None:
    """Raise ``DownloadError`` unless ``path`` matches ``check``.

    Beyond the magic bytes, a GLB's length field must equal the file size and a zip
    must end with its central directory, so a body cut short is caught even when the
    server announced the short length itself.
    """
    size = path.stat().st_size
    if check.size is not None and size != check.size:
        raise DownloadError(
            f"{label}: size mismatch, got {size} bytes but the platform announced "
            f"{check.size}. Try the download again."
        )
    if check.md5 is not None:
        digest = md5_of(path)
        if digest.lower() != check.md5.lower():
            raise DownloadError(
                f"{label}: md5 mismatch (expected {check.md5}, got {digest}). "
                "Try the download again."
            )
    if check.kind is not None:
        check_magic(path, check.kind, label=label)
        _check_structure(path, check.kind, size, label)


def _check_structure(path: Path, kind: str, size: int, label: str) -> None:
    if kind == "glb":
        with open(path, "rb") as handle:
            header = handle.read(12)
        declared = struct.unpack("<I", header[8:12])[0] if len(header) == 12 else None
        if declared != size:
            raise DownloadError(
                f"{label}: the GLB header declares {declared} bytes but the file has "
                f"{size}, so the transfer was cut short. Try the download again."
            )
    if kind == "zip" and not zipfile.is_zipfile(path):
        raise DownloadError(
            f"{label}: the zip archive has no central directory, so the transfer was cut "
            "short. Try the download again."
        )


def md5_of(path: Path) -> str:
    """Return the hex md5 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
