"""Scan files for a secret written in plain text or in a common encoding.

``scan_for_secret(roots, secret, expected=[...])`` reads every regular file under the
roots and returns where the secret appears. It looks for UTF-8 and UTF-16 text, the
URL-encoded and hex forms, and base64 in the standard and URL-safe alphabets. Base64 is
matched at each of the three byte offsets at which the secret can start inside a longer
encoded stream. gzip and zstd files, such as a compressed .blend, are also scanned
after decompression.

A scan that finds nothing proves something only if it read the files that would
hold a leak, so it raises ``ExpectedFileMissing`` when any ``expected`` file was not
among the files it read.
"""

from __future__ import annotations

import base64
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MIN_PATTERN_LENGTH = 8


class ExpectedFileMissing(AssertionError):
    """A file the scan had to read does not exist under the roots."""


@dataclass(frozen=True)
class Finding:
    path: Path
    encoding: str


def _base64_fragments(raw: bytes) -> dict[str, bytes]:
    """Return the part of the base64 text that is the same wherever ``raw`` sits in a
    longer byte stream, for each of the three offsets modulo 3.

    A base64 group of 4 characters encodes 3 bytes, so only the groups made entirely
    of the secret's bytes are fixed. The groups at either end mix in neighbouring bytes.
    """
    fragments = {}
    for offset in range(3):
        padded = b"\0" * offset + raw
        first_group = -(-offset // 3)
        end_group = (offset + len(raw)) // 3
        for alphabet, encode in (
            ("base64", base64.b64encode),
            ("base64url", base64.urlsafe_b64encode),
        ):
            fragment = encode(padded)[4 * first_group : 4 * end_group]
            if len(fragment) >= MIN_PATTERN_LENGTH:
                fragments[f"{alphabet} at offset {offset}"] = fragment
    return fragments


def secret_forms(secret: str) -> dict[str, bytes]:
    """Return each encoding name with the bytes that reveal ``secret`` in that form."""
    raw = secret.encode()
    forms = {
        "plain": raw,
        "utf-16-le": secret.encode("utf-16-le"),
        "url-encoded": quote(secret, safe="").encode(),
        "url-encoded (plus)": quote_plus(secret).encode(),
        "hex": raw.hex().encode(),
        "hex (upper case)": raw.hex().upper().encode(),
    }
    forms.update(_base64_fragments(raw))
    return forms


def _decompressed(content: bytes, path: Path) -> bytes | None:
    """Return the decompressed bytes of a gzip or zstd file, else None."""
    if content.startswith(GZIP_MAGIC):
        try:
            return gzip.decompress(content)
        except (OSError, EOFError):
            return None  # not a complete gzip stream; the raw bytes are still scanned
    if content.startswith(ZSTD_MAGIC):
        try:
            import zstandard
        except ImportError as error:
            raise AssertionError(
                f"{path} is zstd-compressed and the zstandard module is missing, so it "
                "cannot be scanned; install zstandard"
            ) from error
        # Blender writes several zstd frames, so read across frame boundaries.
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(content), read_across_frames=True
        )
        return reader.read()
    return None


def scan_file(path: Path, forms: dict[str, bytes]) -> list[str]:
    """Return the names of the forms found in one file."""
    content = path.read_bytes()
    contents = [content]
    unpacked = _decompressed(content, path)
    if unpacked is not None:
        contents.append(unpacked)
    return [name for name, form in forms.items() if any(form in data for data in contents)]


def files_under(roots: list[Path]) -> list[Path]:
    """Return every regular file under the roots; symbolic links are not followed."""
    found = []
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def scan_for_secret(roots: list[Path], secret: str, *, expected: list[Path] = ()) -> list[Finding]:
    """Return every place ``secret`` appears under ``roots``.

    Raises ``ExpectedFileMissing`` first when a file in ``expected`` is not among the
    files under the roots.
    """
    files = files_under(roots)
    scanned = {path.resolve() for path in files}
    missing = [str(path) for path in expected if Path(path).resolve() not in scanned]
    if missing:
        raise ExpectedFileMissing(
            f"the scan did not find {missing} under {[str(root) for root in roots]}, "
            "so finding no secret would prove nothing"
        )

    forms = secret_forms(secret)
    findings = []
    for path in files:
        findings += [Finding(path, name) for name in scan_file(path, forms)]
    return findings


def text_holds_secret(text: str, secret: str) -> list[str]:
    """Return the names of the forms of ``secret`` found in captured output."""
    data = text.encode("utf-8", "surrogateescape")
    return [name for name, form in secret_forms(secret).items() if form in data]
