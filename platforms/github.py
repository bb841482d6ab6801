"""GitHub (official REST API): find model files in repositories and download them.

There are two ways to find models:

- Code search (``GET /search/code``) needs a token. GitHub indexes only text files
  under 384 KB on the default branch, so it finds ``.gltf`` and ``.obj`` files but
  never GLB or binary FBX.
- A repository listing (``filters={"repo": "owner/name"}``) reads the repository's
  whole tree in one request (``GET /repos/{o}/{r}/git/trees/{ref}?recursive=1``) and
  keeps .glb, .gltf, .fbx and .obj files. It works without a token.

Files come from the contents API with ``Accept: application/vnd.github.raw`` (up to
100 MB). A file stored with Git LFS arrives as a small pointer file, and its bytes
come from GitHub's media host instead, checked against the pointer's sha256 and size.
A .gltf brings its buffers and images, and an .obj its material libraries and their
textures, from the same folder of the repository.

Asset ids look like ``owner/name:path/in/repo.gltf@ref``. Each repository has its own
licence, taken from the ``license.spdx_id`` that GitHub detected.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import posixpath
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

import requests
import urllib3

from ..core.config import DEFAULT_BASE_URLS
from ..core.download import (
    SUFFIX_KINDS,
    DownloadBatch,
    DownloadRequest,
    FileCheck,
    download_file,
    verify_file,
)
from ..core.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    JobCancelledError,
    MeshportError,
    NotDownloadableError,
    NotFoundError,
    RateLimitedError,
    ResponseFormatError,
    UnsafeArchiveError,
    UnsupportedFileError,
)
from ..core.formats import MODEL_SUFFIXES
from ..core.http import PlatformHttp
from ..core.jobs import JobContext
from ..core.models import (
    AccountInfo,
    Asset,
    DownloadedAsset,
    DownloadOptions,
    SearchPage,
    SearchQuery,
)
from ..core.redact import redact_url
from ..core.retry import RetryPolicy
from ..core.tokens import BearerTokenAuth, TokenManager
from .base import PlatformClient
from .github_files import (
    LfsPointer,
    gltf_include_paths,
    mtl_texture_paths,
    obj_material_libraries,
    read_lfs_pointer,
    sha256_of,
)
