"""Value objects passed between platform clients, workers and the Blender side."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Asset:
    """One asset as a platform lists it; every optional field may be ``None``."""

    platform: str
    asset_id: str
    name: str
    author: str = ""
    license: str = ""
    license_url: str | None = None
    url: str | None = None
    download_size: int | None = None
    face_count: int | None = None
    thumbnail_url: str | None = None
    version: str | None = None
    animated: bool | None = None
    formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchQuery:
    """A search request. ``filters`` holds platform-specific keys, such as Sketchfab's
    ``categories`` or ``licenses``; ``page_token`` is the opaque value a previous
    ``SearchPage.next_page`` returned."""

    text: str = ""
    filters: dict = field(default_factory=dict)
    page_token: str | None = None
    count: int = 24


@dataclass(frozen=True)
class SearchPage:
    """One page of results. ``notice`` is a sentence for the panel about this page,
    such as a warning that the platform listed only part of the matches."""

    results: list[Asset]
    next_page: str | None = None
    notice: str = ""


@dataclass(frozen=True)
class DownloadOptions:
    """The choices of a download: ``file_format`` is ``None`` for the platform's
    preferred one."""

    file_format: str | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class DownloadedAsset:
    """A finished download: ``model_path`` is the one file to hand to an importer."""

    asset: Asset
    model_path: Path
    folder: Path
    file_format: str


@dataclass(frozen=True)
class AccountInfo:
    """The account a key validation returned."""

    platform: str
    username: str
    plan: str | None = None


@dataclass(frozen=True)
class TransferProgress:
    done_bytes: int
    total_bytes: int | None
    bytes_per_second: float
    seconds_left: float | None

    @property
    def fraction(self) -> float | None:
        if not self.total_bytes:
            return None
        return min(1.0, self.done_bytes / self.total_bytes)
