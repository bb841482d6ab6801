"""The files a downloaded model names (a .gltf's buffers and images, an .obj's material
libraries and textures), Git LFS pointers, and the staging folder of one download."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path, PurePosixPath

from ...core.errors import DownloadError, UnsafeArchiveError
from ..common import (
    gltf_file_uris,
    install_folder,
    read_gltf_document,
    relative_path_problem,
)
from .constants import (
    FOLDER_NAME_PATTERN,
    LFS_POINTER_START,
    LFS_SPEC_URLS,
    MAX_LFS_POINTER_SIZE,
    PLATFORM_ID,
)
from .refs import FileRef, LfsPointer


def gltf_include_paths(path: Path, label: str) -> list[str]:
    """Return the relative paths of the buffers and images a .gltf names.

    ``data:`` URIs are embedded and need nothing. Raises ``UnsafeArchiveError`` for a
    URI with a scheme, an absolute path or a ".." segment, and ``DownloadError`` for a
    file that is not a glTF JSON object.
    """
    document = read_gltf_document(path, label)
    return [
        checked_relative_path(decoded, label, uri) for uri, decoded in gltf_file_uris(document)
    ]


def obj_material_libraries(path: Path, label: str) -> list[str]:
    """Return the relative paths of the .mtl files an .obj names with ``mtllib``.

    NOTE: names are split at spaces, so a file name that contains a space is not found.
    """
    names = []
    for line in _text_lines(path):
        keyword, _, rest = line.strip().partition(" ")
        if keyword == "mtllib":
            names += rest.split()
    return [checked_relative_path(name, label) for name in names]


def mtl_texture_paths(path: Path, label: str) -> list[str]:
    """Return the texture files a .mtl names, relative to its folder: the last word of
    each ``map_*``, ``bump``, ``disp``, ``decal`` and ``refl`` statement, after any
    options such as ``-bm 0.5``."""
    if not path.is_file():
        return []
    names = []
    for line in _text_lines(path):
        words = line.strip().split()
        if len(words) < 2:
            continue
        keyword = words[0].lower()
        if keyword.startswith("map_") or keyword in ("bump", "disp", "decal", "refl"):
            names.append(words[-1])
    return [checked_relative_path(name, label) for name in names]


def checked_relative_path(reference: str, label: str, original: str | None = None) -> str:
    """Return ``reference`` as a normal relative path inside the model's folder, or
    raise ``UnsafeArchiveError`` when it could point anywhere else."""
    path, problem = relative_path_problem(reference)
    if problem:
        raise UnsafeArchiveError(
            f"{label}: the reference '{original or reference}' {problem}, so the download "
            "was stopped. Choose another model or report it to the repository's owner.",
            platform=PLATFORM_ID,
        )
    return path


def read_lfs_pointer(path: Path, label: str) -> LfsPointer | None:
    """Return the pointer when ``path`` is a Git LFS pointer file, else None.

    A file that starts like a pointer but lacks a valid ``oid sha256:`` or ``size``
    line raises ``DownloadError``.
    """
    if path.stat().st_size >= MAX_LFS_POINTER_SIZE:
        return None
    data = path.read_bytes()
    if not data.startswith(LFS_POINTER_START):
        return None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None
    fields = dict(line.partition(" ")[::2] for line in lines if line)
    if fields.get("version") not in LFS_SPEC_URLS:
        return None
    oid = fields.get("oid", "")
    size = fields.get("size", "")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", oid) or not size.isdigit():
        raise DownloadError(
            f"{label}: the file is a Git LFS pointer without a valid 'oid sha256:' or "
            "'size' line, so the real file cannot be fetched. Report it to the "
            "repository's owner.",
            platform=PLATFORM_ID,
        )
    return LfsPointer(oid[len("sha256:") :], int(size))


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_name(file: FileRef) -> str:
    """Return the download folder of a file: readable names and a digest of the id,
    so two files or refs never share a folder."""
    digest = hashlib.sha256(file.asset_id.encode()).hexdigest()[:12]
    stem = FOLDER_NAME_PATTERN.sub("_", PurePosixPath(file.path).stem).strip("._")[:60]
    return f"{file.owner}_{file.repo}_{stem or 'model'}_{digest}"


class _Workspace:
    """The files of one download: a hidden staging folder beside ``final`` until
    ``install`` renames it into place."""

    def __init__(self, final: Path):
        self.final = final
        self.staging = final.with_name(f".{final.name}.incomplete")
        self._replaced = final.with_name(f".{final.name}.replaced")

    def prepare(self) -> None:
        self.discard()
        self.staging.mkdir(parents=True)

    def install(self, model: Path) -> Path:
        """Move the staging folder to ``final`` and return ``model``'s new path."""
        return install_folder(self.staging, self.final, self._replaced, model)

    def discard(self) -> None:
        """Delete what this download wrote and restore an earlier folder moved aside."""
        shutil.rmtree(self.staging, ignore_errors=True)
        if self._replaced.exists() and not self.final.exists():
            self._replaced.rename(self.final)
        shutil.rmtree(self._replaced, ignore_errors=True)


def _text_lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", "replace").splitlines()
