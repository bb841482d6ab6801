"""Builders of hostile zip, tar, glTF, GLB and FBX files, written byte by byte.

The standard library's writers reject or normalise much of what an attacker can put
in a file, so these builders pack every header with ``struct``. They can write names
with ``..`` or a drive letter, symbolic links and device files, sizes that lie, names
without the UTF-8 flag, GLB headers with a wrong length, and FBX files with chosen
string properties.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

ZIP_STORED = 0
ZIP_DEFLATED = 8
UNIX_SYSTEM = 3
UTF8_FLAG = 0x800
DOS_TIME = 0  # 00:00:00
DOS_DATE = (1 << 5) | 1  # 1980-01-01

TAR_BLOCK = 512
TAR_FILE = b"0"
TAR_HARD_LINK = b"1"
TAR_SYMLINK = b"2"
TAR_CHAR_DEVICE = b"3"
TAR_BLOCK_DEVICE = b"4"
TAR_DIRECTORY = b"5"
TAR_FIFO = b"6"
TAR_PAX = b"x"

GLB_JSON = 0x4E4F534A
GLB_BIN = 0x004E4942


# ---------------------------------------------------------------- zip


@dataclass
class ZipMember:
    """One zip entry. A ``name`` in bytes is stored unchanged. A text name is encoded
    as UTF-8 and flagged as UTF-8 when it is not ASCII, unless ``utf8`` is set."""

    name: str | bytes
    data: bytes = b""
    method: int = ZIP_STORED
    mode: int | None = None  # Unix st_mode for the upper half of external_attr
    utf8: bool | None = None
    flags: int = 0  # extra general-purpose flag bits, such as 0x1 (encrypted)
    declared_size: int | None = None  # uncompressed size written in the headers
    extra: bytes = b""
    create_system: int = UNIX_SYSTEM


def deflate(data: bytes) -> bytes:
    """Compress ``data`` as a raw deflate stream, as zip stores it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def zip_bytes(members: list[ZipMember]) -> bytes:
    """Return a zip archive holding ``members`` in order."""
    body = bytearray()
    directory = bytearray()
    for member in members:
        name, flags = _zip_name(member)
        payload = deflate(member.data) if member.method == ZIP_DEFLATED else member.data
        crc = zlib.crc32(member.data)
        size = len(member.data) if member.declared_size is None else member.declared_size
        offset = len(body)
        body += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, flags, member.method, DOS_TIME, DOS_DATE,
            crc, len(payload), size, len(name), len(member.extra),
        )  # fmt: skip
        body += name + member.extra + payload
        external = (member.mode or 0) << 16
        directory += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, (member.create_system << 8) | 20, 20, flags,
            member.method, DOS_TIME, DOS_DATE, crc, len(payload), size, len(name),
            len(member.extra), 0, 0, 0, external, offset,
        )  # fmt: skip
        directory += name + member.extra
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), len(body), 0
    )
    return bytes(body + directory + end)


def _zip_name(member: ZipMember) -> tuple[bytes, int]:
    if isinstance(member.name, bytes):
        utf8 = bool(member.utf8)
        return member.name, member.flags | (UTF8_FLAG if utf8 else 0)
    encoded = member.name.encode("utf-8")
    utf8 = member.utf8 if member.utf8 is not None else not member.name.isascii()
    return encoded, member.flags | (UTF8_FLAG if utf8 else 0)


def unicode_path_extra(stored_name: bytes, real_name: str) -> bytes:
    """Return an Info-ZIP Unicode Path extra field (0x7075) naming ``real_name``."""
    body = b"\x01" + struct.pack("<I", zlib.crc32(stored_name)) + real_name.encode("utf-8")
    return struct.pack("<HH", 0x7075, len(body)) + body


def write_zip(path: Path, members: list[ZipMember]) -> Path:
    path.write_bytes(zip_bytes(members))
    return path


# ---------------------------------------------------------------- tar


@dataclass
class TarMember:
    """One tar entry; ``kind`` is a ustar type flag such as ``TAR_SYMLINK``."""

    name: str | bytes
    data: bytes = b""
    kind: bytes = TAR_FILE
    linkname: str = ""
    mode: int = 0o644
    declared_size: int | None = None


def tar_bytes(members: list[TarMember], *, gzip_level: int | None = None) -> bytes:
    """Return a ustar archive of ``members``, gzip-compressed when ``gzip_level`` is set.

    Names longer than 100 bytes get a pax header (type ``x``) with a ``path`` record.
    """
    blocks = bytearray()
    for member in members:
        name = member.name if isinstance(member.name, bytes) else member.name.encode("utf-8")
        if len(name) > 100:
            record = _pax_record(b"path", name)
            blocks += _tar_header(b"././@PaxHeader", len(record), TAR_PAX, b"", 0o644)
            blocks += _padded(record)
            name = name[:100]
        size = len(member.data) if member.declared_size is None else member.declared_size
        blocks += _tar_header(name, size, member.kind, member.linkname.encode(), member.mode)
        blocks += _padded(member.data)
    blocks += bytes(2 * TAR_BLOCK)
    if gzip_level is None:
        return bytes(blocks)
    return gzip.compress(bytes(blocks), compresslevel=gzip_level, mtime=0)


def _tar_header(name: bytes, size: int, kind: bytes, linkname: bytes, mode: int) -> bytes:
    header = bytearray(TAR_BLOCK)
    header[0 : len(name)] = name
    header[100:108] = b"%07o\x00" % mode
    header[108:116] = b"0000000\x00"
    header[116:124] = b"0000000\x00"
    header[124:136] = b"%011o\x00" % size
    header[136:148] = b"00000000000\x00"
    header[148:156] = b" " * 8
    header[156:157] = kind
    header[157 : 157 + len(linkname)] = linkname
    header[257:265] = b"ustar\x0000"
    header[329:337] = b"0000000\x00"
    header[337:345] = b"0000000\x00"
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header)


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length += 1
    return str(length).encode() + body


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % TAR_BLOCK)


def write_tar(path: Path, members: list[TarMember], *, gzip_level: int | None = None) -> Path:
    path.write_bytes(tar_bytes(members, gzip_level=gzip_level))
    return path


def unity_package(assets: list[dict], *, extra: list[TarMember] | None = None) -> bytes:
    """Return a gzip-compressed .unitypackage.

    Each dict has ``guid`` and optionally ``pathname`` (text written as given),
    ``asset`` (bytes), ``meta`` (bytes) and ``preview`` (bytes).
    """
    members = []
    for entry in assets:
        guid = entry["guid"]
        members.append(TarMember(f"{guid}/", kind=TAR_DIRECTORY, mode=0o755))
        if "asset" in entry:
            members.append(TarMember(f"{guid}/asset", entry["asset"]))
        meta = entry.get("meta", f"fileFormatVersion: 2\nguid: {guid}\n".encode())
        members.append(TarMember(f"{guid}/asset.meta", meta))
        if "pathname" in entry:
            members.append(TarMember(f"{guid}/pathname", entry["pathname"].encode("utf-8")))
        if "preview" in entry:
            members.append(TarMember(f"{guid}/preview.png", entry["preview"]))
    return tar_bytes(members + (extra or []), gzip_level=6)


# ---------------------------------------------------------------- glTF and GLB


def gltf_document(
    buffer_uris: list[str] = (),
    image_uris: list[str] = (),
    *,
    required: list[str] = (),
    meshes: int = 1,
    version: str = "2.0",
) -> dict:
    """Return a glTF JSON document with the given URIs and extension names."""
    document = {
        "asset": {"version": version, "generator": "hostile test builder"},
        "buffers": [{"uri": uri, "byteLength": 4} for uri in buffer_uris],
        "images": [{"uri": uri} for uri in image_uris],
        "meshes": [{"primitives": []} for _ in range(meshes)],
    }
    if required:
        document["extensionsUsed"] = list(required)
        document["extensionsRequired"] = list(required)
    return document


def gltf_bytes(document: dict) -> bytes:
    return json.dumps(document).encode("utf-8")


def glb_bytes(
    document: dict,
    binary: bytes = b"",
    *,
    declared_length: int | None = None,
    version: int = 2,
    first_chunk_type: int = GLB_JSON,
    extra_chunks: list[tuple[int, bytes]] = (),
) -> bytes:
    """Return a GLB file; the keyword arguments make its header or chunks wrong."""
    text = json.dumps(document).encode("utf-8")
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), first_chunk_type) + text
    if binary:
        padded = binary + bytes(-len(binary) % 4)
        chunks += struct.pack("<II", len(padded), GLB_BIN) + padded
    for kind, data in extra_chunks:
        chunks += struct.pack("<II", len(data), kind) + data
    length = 12 + len(chunks) if declared_length is None else declared_length
    return struct.pack("<4sII", b"glTF", version, length) + chunks


# ---------------------------------------------------------------- FBX


@dataclass
class FbxNode:
    """One FBX node record; ``properties`` are (type code, packed value) pairs."""

    name: bytes
    properties: list[tuple[bytes, bytes]]
    children: list[FbxNode]


def fbx_string(text: str) -> tuple[bytes, bytes]:
    data = text.encode("utf-8")
    return b"S", struct.pack("<I", len(data)) + data


def fbx_raw(data: bytes) -> tuple[bytes, bytes]:
    return b"R", struct.pack("<I", len(data)) + data


def fbx_bytes(
    strings: list[str], *, version: int = 7400, embedded: dict[str, bytes] | None = None
) -> bytes:
    """Return a minimal binary FBX file with an ``Objects`` record.

    Each of ``strings`` becomes a ``Texture`` record with that string property, an
    ``I`` property and a nested child. Each ``embedded`` name becomes a ``Video``
    record named in the binary format's "name, NUL, 0x01, class" form, whose
    ``RelativeFilename`` child names the file and whose ``Content`` child carries
    the given bytes.
    """
    textures = [
        FbxNode(b"Texture", [fbx_string(text), (b"I", struct.pack("<i", 7))],
                [FbxNode(b"Child", [(b"C", b"\x01")], [])])
        for text in strings
    ]  # fmt: skip
    videos = [
        FbxNode(b"Video", [fbx_string(name + "\x00\x01Video")],
                [FbxNode(b"RelativeFilename", [fbx_string(name)], []),
                 FbxNode(b"Content", [fbx_raw(data)], [])])
        for name, data in (embedded or {}).items()
    ]  # fmt: skip
    wide = version >= 7500
    header = b"Kaydara FBX Binary  \x00\x1a\x00" + struct.pack("<I", version)
    objects = _fbx_record(FbxNode(b"Objects", [], textures + videos), len(header), wide)
    return header + objects + _fbx_null_record(wide) + bytes(160)


def _fbx_null_record(wide: bool) -> bytes:
    return bytes(25 if wide else 13)


def _fbx_record(node: FbxNode, start: int, wide: bool) -> bytes:
    properties = b"".join(code + value for code, value in node.properties)
    head_size = (25 if wide else 13) + len(node.name)
    nested = b""
    for child in node.children:
        nested += _fbx_record(child, start + head_size + len(properties) + len(nested), wide)
    if node.children:
        nested += _fbx_null_record(wide)
    end = start + head_size + len(properties) + len(nested)
    layout = "<QQQB" if wide else "<IIIB"
    packed = struct.pack(layout, end, len(node.properties), len(properties), len(node.name))
    return packed + node.name + properties + nested
