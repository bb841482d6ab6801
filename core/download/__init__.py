"""Stream files to ``<name>.part`` and rename them into place only when they pass
every check.

One ``download_file`` call makes up to ``max_attempts`` transfers. When the
connection breaks mid-body, the next attempt continues with an HTTP Range request if
the first response carried a validator for ``If-Range`` (a strong ETag or
Last-Modified), and otherwise starts over. ``download_files`` runs several downloads
at once over the platform's shared connection pool.

The code is split into ``file`` (``download_file``), ``transfer`` (attempts and
resume), ``decoding`` (a body sent with a Content-Encoding), ``checks``
(``verify_file`` and the error-page check), ``progress`` and ``batch``
(``download_files``). This package re-exports their public names.
"""

from ..errors import JobCancelledError
from .batch import (
    DEFAULT_PARALLEL_DOWNLOADS,
    MAX_PARALLEL_DOWNLOADS,
    DownloadBatch,
    DownloadOutcome,
    DownloadRequest,
    download_files,
    parallel_limit,
)
from .checks import HEAD_SIZE, SUFFIX_KINDS, FileCheck, check_head, md5_of, verify_file
from .file import download_file
from .progress import PROGRESS_INTERVAL, ProgressCallback, describe, transfer_progress
from .transfer import CHUNK_SIZE, DEFAULT_MAX_ATTEMPTS, UrlSource

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_PARALLEL_DOWNLOADS",
    "HEAD_SIZE",
    "MAX_PARALLEL_DOWNLOADS",
    "PROGRESS_INTERVAL",
    "SUFFIX_KINDS",
    "DownloadBatch",
    "DownloadOutcome",
    "DownloadRequest",
    "FileCheck",
    "JobCancelledError",
    "ProgressCallback",
    "UrlSource",
    "check_head",
    "describe",
    "download_file",
    "download_files",
    "md5_of",
    "parallel_limit",
    "transfer_progress",
    "verify_file",
]
