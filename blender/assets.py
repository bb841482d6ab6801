"""Downloads through the asset cache, as a job's worker runs them.

A download whose asset has a version is looked up in the asset cache under
``<data_dir>/assets`` first. A hit is imported from the cached files without any
request for files. A miss is downloaded into the cache's staging folder and stored.
Assets without a version, and local library files, bypass the cache.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..core.asset_cache import AssetCache, CacheEntry, CacheKey, credential_fingerprint
from ..core.config import Settings
from ..core.errors import MeshportError
from ..core.formats import MODEL_SUFFIXES
from ..core.jobs import JobContext
from ..core.models import Asset, DownloadedAsset, DownloadOptions

log = logging.getLogger(__name__)

CACHE_FOLDER = "assets"
# Platforms whose files belong to one user (purchases, a personal Mixamo library), so
# their cache key carries a fingerprint of the credential.
PER_USER_PLATFORMS = frozenset({"mixamo", "unity", "fab"})
# Platforms whose files are imported where they are, so caching would only copy them.
UNCACHED_PLATFORMS = frozenset({"local"})

# One AssetCache per cache folder and process, because its per-key locks only make
# threads of one process wait for a download that another thread is running.
_caches: dict[Path, AssetCache] = {}
_caches_lock = threading.Lock()


def cache_root(settings: Settings) -> Path:
    return Path(settings.data_dir) / CACHE_FOLDER


def asset_cache(settings: Settings) -> AssetCache:
    """Return this process's cache for ``settings``, with its size cap updated."""
    root = cache_root(settings)
    with _caches_lock:
        cache = _caches.get(root)
        if cache is None:
            cache = AssetCache(root, max_bytes=settings.asset_cache_max_bytes)
            _caches[root] = cache
        cache.max_bytes = settings.asset_cache_max_bytes
        return cache


def forget_caches() -> None:
    """Drop the process's cache objects, for example when the add-on is disabled."""
    with _caches_lock:
        _caches.clear()


def cache_size(settings: Settings) -> int:
    """Return the bytes the asset cache holds, 0 when it was never created."""
    if not (cache_root(settings) / "index.sqlite").exists():
        return 0
    return asset_cache(settings).size()


def clear_cache(settings: Settings) -> None:
    asset_cache(settings).clear()


def cache_key(
    settings: Settings, asset: Asset, options: DownloadOptions = DownloadOptions()
) -> CacheKey | None:
    """Return the cache key of the asset's files, or None when they are not cached."""
    if asset.platform in UNCACHED_PLATFORMS or not asset.version:
        return None
    variant = f"{options.file_format or 'default'}-{options.resolution or 'default'}"
    credential = ""
    if asset.platform in PER_USER_PLATFORMS:
        credential = credential_fingerprint(settings.platform(asset.platform).key)
    return CacheKey(asset.platform, asset.asset_id, asset.version, variant, credential)


def download_through_cache(
    client,
    settings: Settings,
    asset: Asset,
    destination: Path,
    context: JobContext,
    options: DownloadOptions = DownloadOptions(),
) -> DownloadedAsset:
    """Return the asset's files from the cache, downloading them on a miss.

    An entry that fails its size or md5 check is deleted by the cache and
    downloaded again. Without a cache key, this is ``client.download`` into
    ``destination``.
    """
    key = cache_key(settings, asset, options)
    if key is None:
        log.info("platform=%s asset=%s not cached: no version", asset.platform, asset.asset_id)
        return client.download(asset, destination, context, options)

    downloaded: list[DownloadedAsset] = []

    def download(folder: Path) -> str:
        log.info("asset cache: miss platform=%s asset=%s", asset.platform, asset.asset_id)
        result = client.download(asset, folder, context, options)
        downloaded.append(result)
        return result.model_path.relative_to(folder).as_posix()

    # NOTE: the main thread imports from the entry's folder after this returns, so
    # another job's store can evict the entry first if the cap is smaller than the
    # two assets together; the import then fails with a missing file.
    entry = asset_cache(settings).fetch(key, download)
    if not downloaded:
        log.info("asset cache: hit platform=%s asset=%s", asset.platform, asset.asset_id)
        context.report_progress(1.0, f"'{asset.name}' is in the asset cache")
    return _cached_download(asset, entry, downloaded)


def _cached_download(
    asset: Asset, entry: CacheEntry, downloaded: list[DownloadedAsset]
) -> DownloadedAsset:
    if entry.main_file is None:
        raise MeshportError(
            f"The asset cache entry of '{asset.name}' names no model file. Clear the asset "
            "cache in Meshport's preferences and import again."
        )
    if downloaded:
        file_format = downloaded[0].file_format
    else:
        file_format = MODEL_SUFFIXES.get(entry.main_file.suffix.lower(), "")
    return DownloadedAsset(asset, entry.main_file, entry.folder, file_format)
