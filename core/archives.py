"""Safe archive extraction and finding the model file inside an extracted folder."""

from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from .errors import UnsafeArchiveError, UnsupportedFileError
from .formats import MODEL_SUFFIXES

log = logging.getLogger(__name__)

MAX_UNPACKED_BYTES = 4 * 2**30


def extract_zip(archive: Path, destination: Path, *, max_unpacked: int = MAX_UNPACKED_BYTES) -> list[Path]:
    """Extract ``archive`` into ``destination`` (which must not exist yet).

    Rejects absolute paths, ``..`` and oversize archives before writing anything.
    A rejected or failed extraction leaves no ``destination`` behind.
    """
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir()]
            _check_members(archive, members, max_unpacked)
            staging = destination.with_name(destination.name + ".extracting")
            shutil.rmtree(staging, ignore_errors=True)
            try:
                written = [_extract_member(bundle, info, staging) for info in members]
                staging.rename(destination)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except zipfile.BadZipFile as error:
        raise UnsafeArchiveError(f"{archive.name}: not a valid zip archive ({error}).") from error
    return [destination / path.relative_to(staging) for path in written]


def _check_members(archive: Path, members: list[zipfile.ZipInfo], max_unpacked: int) -> None:
    total = 0
    for info in members:
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or ":" in info.filename[:3]:
            raise UnsafeArchiveError(
                f"{archive.name}: the entry '{info.filename}' points outside the archive "
                "folder, so nothing was extracted."
            )
        total += info.file_size
    if total > max_unpacked:
        raise UnsafeArchiveError(
            f"{archive.name}: unpacks to {total} bytes, over the limit of {max_unpacked}."
        )


def _extract_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path) -> Path:
    target = root.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with bundle.open(info) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink, 1024 * 1024)
    return target


def find_model_file(folder: Path, *, preferred: tuple[str, ...] = ("glb", "gltf", "fbx", "obj")) -> Path:
    """Return the one model file under ``folder`` at any depth.

    Prefers formats in the order of ``preferred``; raises ``UnsupportedFileError``
    when there is none, or several of the chosen format.
    """
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        kind = MODEL_SUFFIXES.get(path.suffix.lower())
        if kind and path.is_file() and not path.name.startswith("._"):
            found.setdefault(kind, []).append(path)
    for kind in preferred:
        candidates = found.get(kind, [])
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            names = ", ".join(str(p.relative_to(folder)) for p in candidates[:5])
            raise UnsupportedFileError(
                f"{folder.name}: holds {len(candidates)} {kind.upper()} models ({names}); "
                "Meshport imports one model per archive. Extract it and import the file you want."
            )
    raise UnsupportedFileError(
        f"{folder.name}: holds no GLB, glTF, FBX or OBJ file, so there is nothing to import."
    )
