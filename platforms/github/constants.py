"""Fixed values of the GitHub client: API media types, limits, cache lifetimes and the
patterns that names, refs and paths must match."""

from __future__ import annotations

import re

PLATFORM_ID = "github"
LABEL = "GitHub"
NOTICE = (
    "GitHub code search needs a token and finds only .gltf and .obj files, because "
    "GitHub does not index GLB or binary FBX. Filter by a repository to list all of them."
)
TOKEN_PAGE = "https://github.com/settings/tokens"

API_VERSION = "2022-11-28"
JSON_MEDIA_TYPE = "application/vnd.github+json"
RAW_MEDIA_TYPE = "application/vnd.github.raw"
DEFAULT_MEDIA_URL = "https://media.githubusercontent.com"
MEDIA_URL_VARIABLE = "MESHPORT_GITHUB_MEDIA_URL"

# GitHub's contents API serves files up to 100 MB (GitHub changelog, 2022-05-03).
# NOTE: read here as 100 MiB, the size GitHub rejects files from in a push.
MAX_FILE_SIZE = 100 * 1024 * 1024
MAX_COUNT = 100  # the largest per_page the search API accepts
# Requests per hour that GitHub's REST API allows with a token (60 without one).
GITHUB_TOKEN_RATE_PER_HOUR = 5000
UNKNOWN_LICENSE = "unknown"

# Seconds a response stays in the response cache.
REPOSITORY_TTL = 3600
TREE_TTL = 600
SEARCH_TTL = 300
CONTENTS_TTL = 300

SEARCH_FORMATS = ("gltf", "obj")  # the model formats code search indexes
LISTED_FORMATS = ("glb", "gltf", "fbx", "obj")
FILTER_NAMES = ("repo", "ref", "format")

# The Git LFS specification requires pointer files to be smaller than 1024 bytes.
# Pointers from before Git LFS 1.0 name the spec "hawser", and LFS readers accept it.
MAX_LFS_POINTER_SIZE = 1024
# Binary model formats: a file of theirs smaller than a pointer is most likely one.
# An ASCII .fbx is text, but no usable FBX file is that small either.
BINARY_MODEL_SUFFIXES = (".glb", ".fbx")
LFS_SPEC_URLS = ("https://git-lfs.github.com/spec/v1", "https://hawser.github.com/spec/v1")
LFS_POINTER_START = b"version https://"
# The wording of GitHub's refusals once a repository's Git LFS bandwidth is used up.
# NOTE: only the wording is known; the status code of the media host's refusal is not.
QUOTA_PHRASES = ("over its data quota", "exceeded its lfs budget")
QUOTA_PEEK_BYTES = 4096

OWNER_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
REPOSITORY_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")
ASSET_ID_PATTERN = re.compile(
    r"(?P<owner>[A-Za-z0-9][A-Za-z0-9-]{0,38})/(?P<repo>[A-Za-z0-9._-]{1,100}):(?P<rest>.+)"
)
GITHUB_HOSTS = ("github.com", "www.github.com")
FOLDER_NAME_PATTERN = re.compile(r"[^A-Za-z0-9._-]+")
