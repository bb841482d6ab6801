"""The platform ids Meshport supports and the client class behind each."""

from __future__ import annotations

import importlib

from ..core import policy
from ..core.config import Settings
from ..core.errors import ConfigurationError
from .base import PlatformClient

# Platform id -> "module:Class", imported on first use so that enabling the add-on
# stays fast.
CLIENT_CLASSES = {
    "sketchfab": "sketchfab:SketchfabClient",
    "polyhaven": "polyhaven:PolyHavenClient",
    "github": "github:GitHubClient",
    "local": "local:LocalLibraryClient",
    "unity": "unity:UnityPackageClient",
}


def available_platform_ids() -> tuple[str, ...]:
    return tuple(CLIENT_CLASSES)


def client_class(platform_id: str) -> type[PlatformClient]:
    try:
        target = CLIENT_CLASSES[platform_id]
    except KeyError:
        known = ", ".join(CLIENT_CLASSES)
        raise ConfigurationError(
            f"Unknown platform '{platform_id}'. Use one of: {known}."
        ) from None
    module_name, class_name = target.split(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    return getattr(module, class_name)


def create_client(platform_id: str, settings: Settings) -> PlatformClient:
    """Return a client for ``platform_id``; raises ``PolicyError`` when the studio
    policy does not allow the platform for this user."""
    cls = client_class(platform_id)
    policy.check_platform(platform_id)
    return cls(settings)
