"""Fixed values of the Sketchfab client: its platform id, page limit, the patterns of
model ids and URLs, and the values its search filters accept."""

from __future__ import annotations

import re

PLATFORM_ID = "sketchfab"
LABEL = "Sketchfab"
TOKEN_PAGE = "https://sketchfab.com/settings/password"

MAX_COUNT = 24
UID_PATTERN = re.compile(r"[0-9a-fA-F]{32}")
MODEL_PATH_PATTERN = re.compile(
    r"/(?:3d-models|models)/(?:[^/]*-)?(?P<uid>[0-9a-fA-F]{32})(?:/embed)?/?"
)
SKETCHFAB_HOSTS = ("sketchfab.com", "www.sketchfab.com")

# Category slugs as GET /v3/categories listed them in 2024. NOTE: a category that
# Sketchfab adds later is rejected until it is added here.
CATEGORY_SLUGS = (
    "animals-pets", "architecture", "art-abstract", "cars-vehicles",
    "characters-creatures", "cultural-heritage-history", "electronics-gadgets",
    "fashion-style", "food-drink", "furniture-home", "music", "nature-plants",
    "news-politics", "people", "places-travel", "science-technology",
    "sports-fitness", "weapons-military",
)  # fmt: skip

LICENSE_LABELS = {
    "by": "CC Attribution",
    "by-sa": "CC Attribution-ShareAlike",
    "by-nd": "CC Attribution-NoDerivs",
    "by-nc": "CC Attribution-NonCommercial",
    "by-nc-sa": "CC Attribution-NonCommercial-ShareAlike",
    "by-nc-nd": "CC Attribution-NonCommercial-NoDerivs",
    "cc0": "CC0 Public Domain",
    "free-st": "Free Standard",
    "st": "Standard",
    "ed": "Editorial",
}

# "true" and "false" select any PBR workflow or none; the others select one workflow.
PBR_TYPES = ("metalness", "specular", "true", "false")
SORT_FIELDS = ("likeCount", "viewCount", "publishedAt")
SORT_VALUES = SORT_FIELDS + tuple(f"-{name}" for name in SORT_FIELDS)
BOOLEAN_FILTERS = ("animated", "staffpicked", "rigged")
FACE_COUNT_FILTERS = ("min_face_count", "max_face_count")
FILTER_NAMES = (
    ("categories", "licenses", "pbr_type", "sort_by") + BOOLEAN_FILTERS + FACE_COUNT_FILTERS
)

DOWNLOAD_FORMATS = ("glb", "gltf")
