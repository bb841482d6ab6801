"""Settings that workers receive: read once on the main thread, then immutable.

Workers never read ``bpy`` preferences; the Blender side and the command line both
build a ``Settings`` and hand it over.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigurationError
from .secrets import Secret

log = logging.getLogger(__name__)

PLATFORM_IDS = ("sketchfab", "polyhaven", "local", "github", "mixamo", "unity", "fab")

DEFAULT_BASE_URLS = {
    "sketchfab": "https://api.sketchfab.com/v3",
    "polyhaven": "https://api.polyhaven.com",
    "github": "https://api.github.com",
}

# Requests per hour where the platform publishes no number of its own.
DEFAULT_RATE_PER_HOUR = {
    "sketchfab": 1000,
    "polyhaven": 600,
    "github": 5000,
    "mixamo": 1000,
    "unity": 2000,
    "fab": 200,
}


def env_name(platform_id: str, suffix: str) -> str:
    """Return the environment variable for a platform, e.g. ``MESHPORT_SKETCHFAB_URL``."""
    return f"MESHPORT_{platform_id.upper()}_{suffix}"


@dataclass(frozen=True)
class PlatformSettings:
    platform_id: str
    base_url: str = ""
    key: Secret | None = field(default=None, repr=False)
    rate_per_hour: int = 0


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs. ``data_dir`` contains caches and logs."""

    data_dir: Path
    download_dir: Path
    online_access: bool
    platforms: dict[str, PlatformSettings]
    local_dir: Path | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retry_budget_seconds: float = 60.0
    max_parallel_downloads: int = 4
    pack_images: bool = True
    # A studio's shared Redis (redis://host:6379/0): when set, the response cache and
    # the rate budgets live there instead of in SQLite under data_dir.
    redis_url: str | None = field(default=None, repr=False)
    # A CA file or folder, or "system"; None uses requests' bundle. MESHPORT_CA_BUNDLE wins.
    ca_bundle: str | None = None
    # The size cap of the asset cache under data_dir/assets, in bytes (5 GiB).
    asset_cache_max_bytes: int = 5 * 2**30
    # A folder of .unitypackage files searched besides Unity's own download folders.
    unity_dir: Path | None = None

    def platform(self, platform_id: str) -> PlatformSettings:
        try:
            return self.platforms[platform_id]
        except KeyError:
            known = ", ".join(sorted(self.platforms))
            raise ConfigurationError(
                f"Unknown platform '{platform_id}'. Use one of: {known}."
            ) from None

    def with_platform(self, platform_settings: PlatformSettings) -> Settings:
        platforms = dict(self.platforms)
        platforms[platform_settings.platform_id] = platform_settings
        return replace(self, platforms=platforms)


def resolve_base_url(platform_id: str, preference: str = "") -> str:
    """Pick the base URL: ``MESHPORT_<ID>_URL``, else the preference, else the default."""
    from_env = os.environ.get(env_name(platform_id, "URL"), "").strip()
    if from_env:
        log.info("%s: base URL %s from %s", platform_id, from_env, env_name(platform_id, "URL"))
        return from_env.rstrip("/")
    if preference.strip():
        return preference.strip().rstrip("/")
    return DEFAULT_BASE_URLS.get(platform_id, "")


def key_from_environment(platform_id: str) -> Secret | None:
    value = os.environ.get(env_name(platform_id, "KEY"), "").strip()
    return Secret(value) if value else None


def key_place(platform_id: str | None) -> str:
    """Return where the platform's key is set, for messages: ``MESHPORT_<ID>_KEY`` when
    that variable is set (it wins over the keyring), else the preferences."""
    if not platform_id:
        return "Meshport's preferences"
    name = env_name(platform_id, "KEY")
    if os.environ.get(name, "").strip():
        return name
    return f"Meshport's preferences (or {name})"


def resolve_local_dir(preference: str = "") -> Path | None:
    value = os.environ.get("MESHPORT_LOCAL_DIR", "").strip() or preference.strip()
    return Path(value).expanduser() if value else None


def resolve_unity_dir(preference: str = "") -> Path | None:
    """Pick the folder of .unitypackage files: ``MESHPORT_UNITY_DIR``, else the preference."""
    value = os.environ.get("MESHPORT_UNITY_DIR", "").strip() or preference.strip()
    return Path(value).expanduser() if value else None


def build_platform_settings(
    platform_id: str,
    *,
    url_preference: str = "",
    key: Secret | None = None,
    rate_per_hour: int | None = None,
) -> PlatformSettings:
    return PlatformSettings(
        platform_id=platform_id,
        base_url=resolve_base_url(platform_id, url_preference),
        key=key,
        rate_per_hour=rate_per_hour or DEFAULT_RATE_PER_HOUR.get(platform_id, 0),
    )
