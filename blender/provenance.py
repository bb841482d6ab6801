"""Provenance of imported assets: custom properties on their objects and one line
each in the "Meshport Credits" text block."""

from __future__ import annotations

import logging

import bpy

from ..core.errors import MeshportError
from ..core.models import Asset
from ..platforms import registry

log = logging.getLogger(__name__)

CREDITS_TEXT_NAME = "Meshport Credits"
UNKNOWN_AUTHOR = "unknown author"
UNKNOWN_LICENSE = "unknown"
NO_URL = "no URL"


def provenance_properties(asset: Asset) -> dict[str, str]:
    """Return the custom properties every imported object carries.

    All values are strings: Blender's integer properties hold 32 bits only, and an
    asset id may be a larger number.
    """
    return {
        "meshport_platform": asset.platform,
        "meshport_asset_id": str(asset.asset_id),
        "meshport_name": asset.name,
        "meshport_author": asset.author,
        "meshport_license": asset.license,
        "meshport_url": asset.url or "",
    }


def tag_objects(objects, asset: Asset) -> None:
    properties = provenance_properties(asset)
    for obj in objects:
        for name, value in properties.items():
            obj[name] = value


def platform_label(platform_id: str) -> str:
    """Return the platform's display name, or its id when no client is installed."""
    try:
        return registry.client_class(platform_id).label
    except (MeshportError, ImportError, AttributeError):
        return platform_id


def credits_line(asset: Asset) -> str:
    """Return ``"<name>" by <author> (<platform>, <url>), licence: <licence>``."""
    author = asset.author or UNKNOWN_AUTHOR
    license_name = asset.license or UNKNOWN_LICENSE
    url = asset.url or NO_URL
    return (
        f'"{asset.name}" by {author} ({platform_label(asset.platform)}, {url}), '
        f"licence: {license_name}"
    )


def add_credits_line(line: str) -> None:
    """Append ``line`` to the "Meshport Credits" text block unless it is there."""
    text = bpy.data.texts.get(CREDITS_TEXT_NAME)
    if text is None:
        text = bpy.data.texts.new(CREDITS_TEXT_NAME)
    existing = text.as_string().splitlines()
    if line in existing:
        return
    if existing:
        content = "\n".join(existing) + "\n" + line + "\n"
    else:
        content = line + "\n"
    text.from_string(content)
