"""Poly Haven: the model list, asset info and file downloads. No key; every asset is CC0.

Poly Haven's API has no text search, so the client fetches the whole model list
(``GET /assets?t=models``) once, keeps it on disk under ``settings.data_dir`` as long
as the response's Cache-Control max-age allows, and filters and pages it locally.
Poly Haven's terms require a User-Agent naming the software, which ``PlatformHttp``
sends, and "Powered by Poly Haven" near the results, which the panel shows from
``notice``.
"""

from .client import PolyHavenClient

__all__ = ["PolyHavenClient"]
