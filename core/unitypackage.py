"""Read Unity ``.unitypackage`` files: list the models inside, extract one with its
textures, and find the packages Unity has downloaded.

A package is a gzip-compressed tar archive with one folder per asset, named by the
asset's 32-hex-digit GUID. Each folder contains ``asset`` (the file's bytes),
``asset.meta`` (Unity's import settings), ``pathname`` (the file's path inside the
Unity project, such as ``Assets/Trees/Oak.fbx``) and sometimes ``preview.png``.
Folder assets have no ``asset``. Member names and ``pathname`` texts are untrusted and pass the same
checks as any archive entry (see ``core.archives``).
"""

from __future__ import annotations

import gzip
import logging
import os
import platform
import posixpath
import re
import tarfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import BinaryIO, NoReturn
from urllib.parse import unquote

from .archives import (
    DEFAULT_LIMITS,
    STAGING_SUFFIX,
    ArchiveLimits,
    check_tar_member,
    check_unpacked_total,
    copy_member,
    logical_parts,
    plan_paths,
    rewrite_gltf_references,
    staging_folder,
)
from .errors import (
    ConfigurationError,
    NotFoundError,
    UnsafeArchiveError,
    UnsupportedFileError,
)
from .formats import IMAGE_SUFFIXES, MODEL_SUFFIXES
from .inspect import (
    fbx_texture_paths,
    gltf_uri_holders,
    mtl_texture_references,
    obj_mtllib_texts,
    read_gltf_document,
    texture_basename,
)

log = logging.getLogger(__name__)

ASSET_STORE_FOLDER = "Asset Store-5.x"
GUID_PATTERN = re.compile(r"^[0-9a-fA-F]{32}$")
GUID_REFERENCE = re.compile(rb"guid:\s*([0-9a-fA-F]{32})")
MAX_PATHNAME_BYTES = 4096
MAX_YAML_BYTES = 256 * 1024  # Unity text assets (.mat, .meta) read for GUID references
MAX_PREVIEW_BYTES = 4 * 1024 * 1024
YAML_MAGIC = b"%YAML"
MATERIAL_SUFFIX = ".mat"
COMPANION_SUFFIXES = frozenset({".mtl", ".bin"})  # files an OBJ or glTF reads besides images
MAX_ROUNDS = 4  # model, then its material libraries or buffers, then their textures


@dataclass(frozen=True)
class PackageAsset:
    """One asset of a package that carries a file."""

    guid: str
    pathname: str  # the checked project path with "/" separators, in NFC
    size: int  # bytes of the ``asset`` member
    has_preview: bool = False

    @property
    def name(self) -> str:
        return PurePosixPath(self.pathname).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.pathname).suffix.lower()


@dataclass(frozen=True)
class PackageListing:
    """The assets of one package, in package order."""

    path: Path
    assets: tuple[PackageAsset, ...]
    # GUIDs that each asset's .meta file or Unity text file (such as a .mat) names.
    references: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def models(self) -> list[PackageAsset]:
        return [asset for asset in self.assets if asset.suffix in MODEL_SUFFIXES]

    def images(self) -> list[PackageAsset]:
        return [asset for asset in self.assets if asset.suffix in IMAGE_SUFFIXES]

    def find(self, model: str) -> PackageAsset:
        """Return the asset whose GUID or project path is ``model``."""
        requested = unicodedata.normalize("NFC", model.replace("\\", "/"))
        for asset in self.assets:
            if requested in (asset.guid, asset.pathname):
                return asset
        raise NotFoundError(
            f"{self.path.name}: contains no asset '{model}'. List the package's models and "
            "choose one of them."
        )


@dataclass(frozen=True)
class ExtractedModel:
    """The files written for one model; paths keep the package's project layout."""

    model: Path
    textures: tuple[Path, ...]
    files: tuple[Path, ...]  # every written file, the model first
    warnings: tuple[str, ...] = ()


def list_models(package: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS) -> list[PackageAsset]:
    """Return the FBX, OBJ, GLB and glTF assets of a package."""
    return read_package(package, limits=limits).models()


def read_package(package: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS) -> PackageListing:
    """Read the table of contents of a package in one pass without writing anything.

    Raises ``UnsafeArchiveError`` for links, device files, a ``pathname`` that is
    absolute or climbs out with ``..``, and packages over the size caps.
    """
    label = package.name
    records: dict[str, dict] = {}
    references: dict[str, set[str]] = {}
    try:
        for member, leaf, guid, reader in _walk_members(package, label, limits):
            record = records.setdefault(guid, {"size": None, "pathname": None, "preview": False})
            if leaf == "asset":
                record["size"] = member.size
                references.setdefault(guid, set()).update(_yaml_references(reader, member.size))
            elif leaf == "asset.meta":
                references.setdefault(guid, set()).update(_yaml_references(reader, member.size))
            elif leaf == "pathname":
                record["pathname"] = _read_pathname(reader, member.size, guid, label)
            elif leaf == "preview.png":
                record["preview"] = True
    except (tarfile.TarError, EOFError, OSError) as error:
        _raise_damaged(package, error)
    assets = []
    for guid, record in records.items():
        if record["pathname"] is None:
            if record["size"] is not None:
                log.warning("package=%s guid=%s has an asset but no pathname; skipped", label, guid)
            continue
        if record["size"] is not None:
            assets.append(PackageAsset(guid, record["pathname"], record["size"], record["preview"]))
    frozen = {guid: frozenset(found - {guid}) for guid, found in references.items()}
    return PackageListing(package, tuple(assets), frozen)


def read_preview(package: Path, asset: PackageAsset) -> bytes | None:
    """Return the bytes of the asset's ``preview.png`` (Unity's thumbnail), if any."""
    if not asset.has_preview:
        return None
    try:
        for member, leaf, guid, reader in _walk_members(package, package.name, DEFAULT_LIMITS):
            if guid == asset.guid and leaf == "preview.png" and member.size <= MAX_PREVIEW_BYTES:
                return reader.read()
    except (tarfile.TarError, EOFError, OSError) as error:
        _raise_damaged(package, error)
    return None


def extract_model(
    package: Path,
    model: str | PackageAsset,
    destination: Path,
    *,
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> ExtractedModel:
    """Extract one model and the package files it needs into ``destination``, which
    must not exist yet, at their project paths (``destination/Assets/...``).

    Three kinds of files come with the model. The first are images in the model's
    folder and its subfolders. The second are images, material libraries and buffers
    that the model names, matched by file name (the nearest one when several share
    it). The third are the textures of the Unity materials that the model's ``.meta``
    file names. Names the package does not contain become warnings. A rejected
    package leaves nothing behind.
    """
    listing = read_package(package, limits=limits)
    chosen = listing.find(model) if isinstance(model, str) else listing.find(model.guid)
    if chosen.suffix not in MODEL_SUFFIXES:
        raise UnsupportedFileError(
            f"{package.name}: '{chosen.pathname}' is not an FBX, OBJ, GLB or glTF model."
        )
    plan = dict(
        zip(
            (asset.guid for asset in listing.assets),
            _plan(listing, destination, limits.max_path),
        )
    )
    by_guid = {asset.guid: asset for asset in listing.assets}
    warnings: list[str] = []
    with staging_folder(destination) as staging:
        selected = [chosen.guid, *_initial_companions(listing, chosen)]
        done: list[str] = []
        for _ in range(MAX_ROUNDS):
            pending = [guid for guid in dict.fromkeys(selected) if guid not in done]
            if not pending:
                break
            _extract_guids(package, pending, plan, by_guid, staging, limits)
            done.extend(pending)
            for guid in pending:
                found, missing = _referenced_assets(listing, by_guid[guid], staging / plan[guid])
                selected.extend(found)
                warnings.extend(missing)
        _rewrite_gltf_files(listing, done, plan, by_guid, staging)
    files = tuple(destination / plan[guid] for guid in done)
    textures = tuple(destination / plan[g] for g in done if by_guid[g].suffix in IMAGE_SUFFIXES)
    for message in warnings:
        log.warning("package=%s model=%s %s", package.name, chosen.pathname, message)
    return ExtractedModel(files[0], textures, files, tuple(dict.fromkeys(warnings)))


def _rewrite_gltf_files(
    listing: PackageListing,
    done: list[str],
    plan: Mapping[str, PurePosixPath],
    by_guid: Mapping[str, PackageAsset],
    staging: Path,
) -> None:
    written: dict[str, PurePosixPath] = {}
    for asset in listing.assets:
        if asset.guid in done:
            written.setdefault(asset.pathname, plan[asset.guid])
    for guid in done:
        if by_guid[guid].suffix == ".gltf":
            rewrite_gltf_references(staging, by_guid[guid].pathname, plan[guid], written)


def _walk_members(
    package: Path, label: str, limits: ArchiveLimits
) -> Iterator[tuple[tarfile.TarInfo, str, str, BinaryIO | None]]:
    """Yield ``(member, leaf, guid, reader)`` for each file of a GUID folder, after the
    same member checks and size caps as archive extraction."""
    archive_size = package.stat().st_size
    total = 0
    count = 0
    with tarfile.open(package, "r|*", encoding="utf-8", errors="surrogateescape") as bundle:
        for member in bundle:
            count += 1
            if count > limits.max_entries:
                raise UnsafeArchiveError(
                    f"{label}: contains more than {limits.max_entries} entries, the limit."
                )
            parts = logical_parts(member.name, label=label, folder=member.isdir())
            check_tar_member(member, label)
            if not member.isreg():
                continue
            total += member.size
            check_unpacked_total(label, total, archive_size, limits)
            if len(parts) != 2 or not GUID_PATTERN.match(parts[0]):
                log.debug(
                    "package=%s member=%r is not in a GUID folder; skipped", label, member.name
                )
                continue
            yield member, parts[1], parts[0].lower(), bundle.extractfile(member)


def _read_pathname(reader: BinaryIO, size: int, guid: str, label: str) -> str:
    if size > MAX_PATHNAME_BYTES:
        raise UnsafeArchiveError(
            f"{label}: the pathname of asset {guid} is {size} bytes long, over the limit of "
            f"{MAX_PATHNAME_BYTES}, so the package was not read."
        )
    # Older Unity versions write a second line ("00") after the path.
    text = reader.read().decode("utf-8", "replace").splitlines()
    first = text[0].strip() if text else ""
    parts = logical_parts(first, label=f"{label} (pathname of asset {guid})")
    return "/".join(parts)


def _yaml_references(reader: BinaryIO, size: int) -> set[str]:
    if size > MAX_YAML_BYTES:
        return set()
    data = reader.read()
    if not data.startswith(YAML_MAGIC) and not data.startswith(b"fileFormatVersion"):
        return set()
    return {found.decode("ascii").lower() for found in GUID_REFERENCE.findall(data)}


def _raise_damaged(package: Path, error: Exception) -> NoReturn:
    # gzip.BadGzipFile is an OSError; disk errors (no space, permission) are not ours.
    if isinstance(error, OSError) and not isinstance(error, gzip.BadGzipFile):
        raise error
    raise UnsafeArchiveError(
        f"{package.name}: not a valid Unity package, or it is damaged ({error}). "
        "Download it again from Unity's Package Manager."
    ) from error


def _plan(listing: PackageListing, destination: Path, max_path: int) -> list[PurePosixPath]:
    root = destination.with_name(destination.name + STAGING_SUFFIX)
    pathnames = [asset.pathname for asset in listing.assets]
    return plan_paths(pathnames, root, label=listing.path.name, max_path=max_path)


def _extract_guids(
    package: Path,
    guids: list[str],
    plan: Mapping[str, PurePosixPath],
    by_guid: Mapping[str, PackageAsset],
    staging: Path,
    limits: ArchiveLimits,
) -> None:
    wanted = set(guids)
    for member, leaf, guid, reader in _walk_members(package, package.name, limits):
        if leaf == "asset" and guid in wanted:
            asset = by_guid[guid]
            copy_member(
                reader,
                staging / plan[guid],
                name=asset.pathname,
                size=member.size,
                label=package.name,
            )


def _initial_companions(listing: PackageListing, model: PackageAsset) -> list[str]:
    """Return the images under the model's folder and the textures of the Unity
    materials that the model's .meta file names."""
    folder = posixpath.dirname(model.pathname) + "/"
    found = [image.guid for image in listing.images() if image.pathname.startswith(folder)]
    by_guid = {asset.guid: asset for asset in listing.assets}
    for material in listing.references.get(model.guid, ()):
        asset = by_guid.get(material)
        if asset is None or asset.suffix != MATERIAL_SUFFIX:
            continue
        for texture in listing.references.get(material, ()):
            if texture in by_guid and by_guid[texture].suffix in IMAGE_SUFFIXES:
                found.append(texture)
    return found


def _referenced_assets(
    listing: PackageListing, asset: PackageAsset, written: Path
) -> tuple[list[str], list[str]]:
    """Return the GUIDs of package files that ``written`` names, and warnings for the
    names the package does not contain."""
    names = _referenced_names(listing, asset, written)
    found = []
    missing = []
    for name in names:
        match = _nearest_by_name(listing, asset, name)
        if match is None:
            missing.append(
                f"{asset.name} names '{name}', which the package does not contain, so the "
                "model imports without it."
            )
        else:
            found.append(match.guid)
    return found, missing


def _referenced_names(listing: PackageListing, asset: PackageAsset, written: Path) -> list[str]:
    if asset.suffix == ".fbx":
        return fbx_texture_paths(written, include_embedded=False)
    if asset.suffix == ".obj":
        names = []
        for text in obj_mtllib_texts(written):
            whole = _nearest_by_name(listing, asset, text)
            names.extend([text] if whole is not None else text.split())
        return names
    if asset.suffix == ".mtl":
        return [reference.split()[-1] for reference in mtl_texture_references(written)]
    if asset.suffix in (".gltf", ".glb"):
        try:
            document = read_gltf_document(written)
        except UnsupportedFileError as error:
            log.warning("gltf=%s references not read: %s", asset.pathname, error.message)
            return []
        return [
            holder["uri"]
            for holder in gltf_uri_holders(document)
            if isinstance(holder["uri"], str) and not holder["uri"].startswith("data:")
        ]
    return []


def _nearest_by_name(
    listing: PackageListing, asset: PackageAsset, reference: str
) -> PackageAsset | None:
    """Return the package file named like ``reference`` whose project path shares the
    longest folder prefix with ``asset``; images, material libraries and buffers only."""
    file_name = texture_basename(unquote(reference)).casefold()
    candidates = [
        other
        for other in listing.assets
        if other.name.casefold() == file_name
        and (other.suffix in IMAGE_SUFFIXES or other.suffix in COMPANION_SUFFIXES)
    ]
    if not candidates:
        return None
    home = PurePosixPath(asset.pathname).parent.parts

    def shared(other: PackageAsset) -> int:
        count = 0
        for mine, theirs in zip(home, PurePosixPath(other.pathname).parent.parts):
            if mine != theirs:
                break
            count += 1
        return count

    return max(candidates, key=shared)


# ---------------------------------------------------------------- Unity's folders


def unity_download_folders(os_name: str, home: PurePath, env: Mapping[str, str]) -> list[PurePath]:
    """Return the folders where Unity keeps downloaded Asset Store packages.

    ``os_name`` is a ``platform.system()`` value (``Windows``, ``Darwin``, ``Linux``).
    The default is ``Asset Store-5.x`` under ``%APPDATA%\\Unity`` on Windows,
    ``~/Library/Unity`` on macOS and ``~/.local/share/unity3d`` on Linux. Unity
    2022.1 and later also honour ``ASSETSTORE_CACHE_PATH``, listed first when set.
    Paths are concrete ``Path`` objects for the running system, pure paths otherwise.
    """
    system = os_name.lower()
    windows = system.startswith("win")
    flavour = PureWindowsPath if windows else PurePosixPath
    folders: list[PurePath] = []
    custom = env.get("ASSETSTORE_CACHE_PATH")
    if custom:
        folders.append(flavour(custom) / ASSET_STORE_FOLDER)
    if windows:
        appdata = env.get("APPDATA") or str(flavour(home) / "AppData" / "Roaming")
        folders.append(flavour(appdata) / "Unity" / ASSET_STORE_FOLDER)
    elif system in ("darwin", "macos"):
        folders.append(flavour(home) / "Library" / "Unity" / ASSET_STORE_FOLDER)
    elif system == "linux":
        folders.append(flavour(home) / ".local" / "share" / "unity3d" / ASSET_STORE_FOLDER)
    else:
        raise ConfigurationError(
            f"Unity packages: no known download folder on '{os_name}'. Open the "
            ".unitypackage file directly."
        )
    if system == platform.system().lower():
        return [Path(folder) for folder in dict.fromkeys(folders)]
    return list(dict.fromkeys(folders))


def find_unity_packages(folders: Iterable[PurePath] | None = None) -> list[Path]:
    """Return the .unitypackage files under ``folders`` (default: this system's
    ``unity_download_folders``), sorted, without following symbolic links."""
    if folders is None:
        folders = unity_download_folders(platform.system(), Path.home(), os.environ)
    found: set[Path] = set()
    for folder in folders:
        for current, _subfolders, files in os.walk(folder):
            for name in files:
                if name.lower().endswith(".unitypackage"):
                    found.add(Path(current) / name)
    return sorted(found)
