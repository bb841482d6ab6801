"""Pack model files the way the platforms deliver them, and count what a glTF contains.

Plain Python without ``bpy``: the sandbox library uses these helpers both for the
files Blender exports on first run and for real files from a sample folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

log = logging.getLogger(__name__)

GLB_MAGIC = b"glTF"
FBX_BINARY_MAGIC = b"Kaydara FBX Binary  \x00"
# Blender's FBX importer reads binary FBX 7.1 (version 7100) and later only.
OLDEST_IMPORTABLE_FBX = 7100
TRIANGLES_MODE = 4


@dataclass(frozen=True)
class ModelCounts:
    """Counts of a model's triangles, vertices, textures and animations, as Sketchfab
    lists them, and whether it has a skin."""

    face_count: int = 0
    vertex_count: int = 0
    texture_count: int = 0
    animation_count: int = 0
    rigged: bool = False

    def to_dict(self) -> dict:
        return {
            "face_count": self.face_count,
            "vertex_count": self.vertex_count,
            "texture_count": self.texture_count,
            "animation_count": self.animation_count,
            "rigged": self.rigged,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ModelCounts:
        return cls(
            face_count=int(data.get("face_count", 0)),
            vertex_count=int(data.get("vertex_count", 0)),
            texture_count=int(data.get("texture_count", 0)),
            animation_count=int(data.get("animation_count", 0)),
            rigged=bool(data.get("rigged", False)),
        )


def glb_json(data: bytes) -> dict:
    """Return the JSON chunk of a GLB file; raises ValueError for anything else."""
    if len(data) < 20 or data[:4] != GLB_MAGIC:
        raise ValueError("not a GLB file: it does not start with 'glTF'")
    length, chunk_type = struct.unpack_from("<I4s", data, 12)
    if chunk_type != b"JSON":
        raise ValueError("the first chunk of the GLB file is not JSON")
    return json.loads(data[20 : 20 + length])


def gltf_counts(document: dict) -> ModelCounts:
    """Count triangles, vertices, textures and animations of a glTF document."""
    accessors = document.get("accessors", [])
    faces = 0
    vertices = 0
    for mesh in document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            position = primitive.get("attributes", {}).get("POSITION")
            vertex_count = accessors[position]["count"] if position is not None else 0
            vertices += vertex_count
            if primitive.get("mode", TRIANGLES_MODE) != TRIANGLES_MODE:
                continue
            indices = primitive.get("indices")
            index_count = accessors[indices]["count"] if indices is not None else vertex_count
            faces += index_count // 3
    return ModelCounts(
        face_count=faces,
        vertex_count=vertices,
        texture_count=len(document.get("textures", [])),
        animation_count=len(document.get("animations", [])),
        rigged=bool(document.get("skins")),
    )


def fbx_binary_version(path: Path) -> int | None:
    """Return the version of a binary FBX file (7400 for FBX 7.4), or None when the
    file is not binary FBX (an ASCII FBX starts with a text comment instead)."""
    with open(path, "rb") as handle:
        head = handle.read(27)
    if not head.startswith(FBX_BINARY_MAGIC) or len(head) < 27:
        return None
    return struct.unpack_from("<I", head, 23)[0]


def obj_counts(path: Path) -> ModelCounts:
    """Count the triangles (each n-gon counts n - 2) and vertices of an OBJ file."""
    faces = 0
    vertices = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("v "):
                vertices += 1
            elif line.startswith("f "):
                faces += max(0, len(line.split()) - 3)
    return ModelCounts(face_count=faces, vertex_count=vertices)


def obj_companions(path: Path) -> list[Path]:
    """Return the files an OBJ names: its ``mtllib`` files and the texture maps those
    list, where they exist next to it."""
    companions: list[Path] = []
    for library in _statements(path, ("mtllib",)):
        material_file = path.parent / library
        if not material_file.is_file():
            log.warning("%s names %s, which is missing; served without it", path.name, library)
            continue
        companions.append(material_file)
        for texture in _statements(material_file, ("map_Kd", "map_Ks", "map_Bump", "bump")):
            texture_file = material_file.parent / texture.split()[-1]
            if texture_file.is_file():
                companions.append(texture_file)
    return companions


def _statements(path: Path, keywords: tuple[str, ...]) -> list[str]:
    values = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            keyword, _, value = line.strip().partition(" ")
            if keyword in keywords and value.strip():
                values.append(value.strip())
    return values


def write_zip(destination: Path, files: dict[str, Path | bytes]) -> Path:
    """Write a deflated zip of ``files`` (archive name -> file or bytes) through a
    temporary name, so a half-written zip never carries the final name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            if isinstance(content, Path):
                bundle.write(content, name)
            else:
                bundle.writestr(name, content)
    os.replace(partial, destination)
    return destination


def scene_archive_files(gltf_path: Path, license_text: str) -> dict[str, Path | bytes]:
    """Return the members of a Sketchfab-style glTF archive for a separate-file glTF:
    ``scene.gltf``, ``scene.bin`` (``scene<N>.bin`` for further buffers),
    ``textures/<name>`` and ``license.txt``, with the URIs in the JSON renamed."""
    document = json.loads(gltf_path.read_text(encoding="utf-8"))
    members: dict[str, Path | bytes] = {}

    for index, buffer in enumerate(document.get("buffers", [])):
        if _is_file_uri(buffer.get("uri")):
            name = "scene.bin" if index == 0 else f"scene{index}.bin"
            members[name] = gltf_path.parent / _decoded_uri(buffer["uri"])
            buffer["uri"] = name

    for image in document.get("images", []):
        if _is_file_uri(image.get("uri")):
            source = gltf_path.parent / _decoded_uri(image["uri"])
            name = f"textures/{source.name}"
            members[name] = source
            image["uri"] = name

    scene = json.dumps(document, indent=2).encode()
    return {"scene.gltf": scene, **members, "license.txt": license_text.encode()}


def gltf_dependencies(gltf_path: Path) -> list[str]:
    """Return the relative paths of the buffers and images a .gltf file names."""
    document = json.loads(gltf_path.read_text(encoding="utf-8"))
    entries = document.get("buffers", []) + document.get("images", [])
    return [_decoded_uri(entry["uri"]) for entry in entries if _is_file_uri(entry.get("uri"))]


def _is_file_uri(uri) -> bool:
    return isinstance(uri, str) and not uri.startswith("data:") and "://" not in uri


def _decoded_uri(uri: str) -> str:
    return unquote(uri)


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def stable_uid(text: str) -> str:
    """Return a 32-hex uid that stays the same for the same text across runs."""
    return hashlib.md5(f"meshport-sandbox:{text}".encode()).hexdigest()


def slug_of(name: str) -> str:
    """Return a lower-case id with underscores, the form Poly Haven uses for assets."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
