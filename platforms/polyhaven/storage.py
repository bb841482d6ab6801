"""Poly Haven files on disk: the cached model list and the staging folder of one
download."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from .constants import CACHE_FORMAT, PLATFORM_ID
from .files import FileBundle
from .listing import ModelList, valid_entries

log = logging.getLogger(__name__)


class ModelListFile:
    """The model list on disk: one JSON file per base URL under ``data_dir/polyhaven``."""

    def __init__(self, data_dir: Path, base_url: str):
        digest = hashlib.sha256(base_url.encode()).hexdigest()[:16]
        self.path = Path(data_dir) / PLATFORM_ID / f"models-{digest}.json"
        self.base_url = base_url

    def read(self) -> ModelList | None:
        """Return the stored list, or None when there is none or it cannot be used."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != CACHE_FORMAT or data.get("base_url") != self.base_url:
                return None
            return ModelList(
                valid_entries(data["assets"]), float(data["fetched_at"]), float(data["max_age"])
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning(
                "platform=%s ignoring the model list cache %s: %s", PLATFORM_ID, self.path, error
            )
            return None

    def write(self, listing: ModelList) -> None:
        """Replace the file in one rename, so a reader never sees half a list. A failed
        write is logged, and the list stays usable in memory."""
        payload = {
            "format": CACHE_FORMAT,
            "base_url": self.base_url,
            "fetched_at": listing.fetched_at,
            "max_age": listing.max_age,
            "assets": listing.assets,
        }
        temporary = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(payload, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            log.warning(
                "platform=%s cannot write the model list cache %s: %s",
                PLATFORM_ID,
                self.path,
                error,
            )


class Workspace:
    """The files of one download: a hidden staging folder beside the final
    ``<id>/<resolution>`` folder, moved into it once every file passed its checks.
    A replaced file is kept aside until the move has finished, so a failed move can
    put it back."""

    def __init__(self, asset_folder: Path, bundle: FileBundle):
        tag = f"{bundle.resolution}.{bundle.file_format}"
        self.asset_folder = asset_folder
        self.final = asset_folder / bundle.resolution
        self.staging = asset_folder / f".{tag}.incomplete"
        self.replaced = asset_folder / f".{tag}.replaced"
        self.paths = [remote.path for remote in bundle.files]
        self._created_folders = [
            folder for folder in (self.final, asset_folder) if not folder.exists()
        ]

    def prepare(self) -> None:
        self._remove_leftovers()
        self.staging.mkdir(parents=True)

    def install(self) -> None:
        moved: list[str] = []
        try:
            for relative in self.paths:
                target = self.final / relative
                if target.exists():
                    _move(target, self.replaced / relative)
                _move(self.staging / relative, target)
                moved.append(relative)
        except BaseException:
            for relative in moved:
                (self.final / relative).unlink(missing_ok=True)
            self._restore_replaced()
            raise
        shutil.rmtree(self.replaced, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)

    def discard(self) -> None:
        """Remove what this download wrote, and the folders it made once they are empty."""
        self._remove_leftovers()
        for folder in self._created_folders:
            if folder.is_dir():
                for inner in sorted(folder.rglob("*"), reverse=True):
                    if inner.is_dir():
                        _remove_if_empty(inner)
                _remove_if_empty(folder)

    def _remove_leftovers(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self._restore_replaced()

    def _restore_replaced(self) -> None:
        if not self.replaced.exists():
            return
        for backup in sorted(self.replaced.rglob("*")):
            target = self.final / backup.relative_to(self.replaced)
            if backup.is_file() and not target.exists():
                _move(backup, target)
        shutil.rmtree(self.replaced, ignore_errors=True)


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
