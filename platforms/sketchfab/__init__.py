"""Sketchfab Data API v3: search, model detail, key check and downloads.

Search works without a key, but downloads need a signed-in user. A download requests
short-lived pre-signed storage URLs from ``/models/{uid}/download`` and fetches the
archive from there without the Authorization header.
"""

from .client import SketchfabClient

__all__ = ["SketchfabClient"]
