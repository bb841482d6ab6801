"""The interface every platform client implements."""

from __future__ import annotations

import abc
import logging
from pathlib import Path
from typing import ClassVar

from ..core.config import PlatformSettings, Settings
from ..core.errors import MeshportError
from ..core.jobs import JobContext
from ..core.models import (
    AccountInfo,
    Asset,
    DownloadedAsset,
    DownloadOptions,
    SearchPage,
    SearchQuery,
)

log = logging.getLogger(__name__)


class PlatformClient(abc.ABC):
    """A client for one platform. Instances are used on worker threads only.

    Class attributes describe the platform to the UI: ``needs_key`` (a key is
    required to search or download), ``key_optional`` (a key is accepted but not
    needed), ``official`` (False for a platform's private web or editor API), and
    ``notice`` (a sentence the panel shows next to the results).
    """

    platform_id: ClassVar[str]
    label: ClassVar[str]
    needs_key: ClassVar[bool] = False
    key_optional: ClassVar[bool] = False
    official: ClassVar[bool] = True
    notice: ClassVar[str] = ""
    formats: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Settings):
        self.settings = settings
        self.platform_settings: PlatformSettings = settings.platform(self.platform_id)

    @abc.abstractmethod
    def search(self, query: SearchQuery, context: JobContext | None = None) -> SearchPage:
        """Return one page of results; pass ``page.next_page`` back for the next one."""

    @abc.abstractmethod
    def get_asset(self, asset_id: str, context: JobContext | None = None) -> Asset:
        """Return the asset's full record, raising ``NotFoundError`` when it is gone."""

    @abc.abstractmethod
    def download(
        self,
        asset: Asset,
        destination: Path,
        context: JobContext,
        options: DownloadOptions = DownloadOptions(),
    ) -> DownloadedAsset:
        """Fetch the asset's files into ``destination`` and return the model to import.

        Nothing partial is left in ``destination`` when this raises.
        """

    def validate_key(self, context: JobContext | None = None) -> AccountInfo:
        """Check the configured key with the platform and return the account."""
        raise MeshportError(f"{self.label} does not use a key.", platform=self.platform_id)

    def parse_asset_id(self, text: str) -> str:
        """Turn what an artist pasted (an id or a page URL) into an asset id."""
        return text.strip()

    def close(self) -> None:
        """Release sessions and files."""
