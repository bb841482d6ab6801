"""Fixed values of the Poly Haven client: its platform id and licence, page limits,
filters, download formats and the patterns that ids and paths must match."""

from __future__ import annotations

import re

PLATFORM_ID = "polyhaven"
LABEL = "Poly Haven"
NOTICE = "Powered by Poly Haven"
ASSET_PAGE = "https://polyhaven.com/a/"
LICENSE = "CC0"
LICENSE_URL = "https://creativecommons.org/publicdomain/zero/1.0/"
POLYHAVEN_HOSTS = ("polyhaven.com", "www.polyhaven.com")

DEFAULT_MAX_AGE = 12 * 3600  # seconds the model list stays fresh without a max-age
MODEL_TYPE = 2  # the "type" number /info gives models (0 is HDRIs, 1 textures)
MAX_COUNT = 100  # results per page at most
FILTER_NAMES = ("categories", "authors")
DOWNLOAD_FORMATS = ("gltf", "fbx")
CACHE_FORMAT = 1  # version of the model list cache file's layout

# Poly Haven ids look like "wooden_table_02". The id becomes a folder name, so only
# letters, digits, "_", "." and "-" are accepted, and never "..".
ASSET_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
ASSET_PAGE_PATTERN = re.compile(r"/a/(?P<id>[^/]+)/?")
RESOLUTION_PATTERN = re.compile(r"(\d+)k")
RESOLUTION_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
