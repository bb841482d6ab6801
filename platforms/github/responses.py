"""Mapping GitHub's JSON responses to Meshport's records, and GitHub's HTTP errors to
messages that name the file."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from urllib.parse import parse_qs, quote, urlsplit

import requests

from ...core.config import key_place
from ...core.errors import (
    AccessDeniedError,
    ConfigurationError,
    MeshportError,
    NotDownloadableError,
    NotFoundError,
    ResponseFormatError,
)
from ...core.formats import MODEL_SUFFIXES
from ...core.models import Asset
from ...core.redact import redact_url
from ..common import response_format_error, size_of, text_of
from .constants import (
    BINARY_MODEL_SUFFIXES,
    LABEL,
    MAX_LFS_POINTER_SIZE,
    PLATFORM_ID,
    TOKEN_PAGE,
    UNKNOWN_LICENSE,
)
from .refs import FileRef, Repository, _check_repository_path

log = logging.getLogger(__name__)


def repository_from_json(data, full_name: str) -> Repository:
    """Map ``GET /repos/{owner}/{repo}`` to a ``Repository``; a missing licence gives
    "unknown", and a missing ``default_branch`` raises ``ResponseFormatError``."""
    if not isinstance(data, dict):
        raise _format_error(f"the details of {full_name} are not a JSON object")
    default_branch = text_of(data.get("default_branch"))
    if not default_branch:
        raise _format_error(f"the details of {full_name} have no 'default_branch'")
    owner = data.get("owner")
    login = text_of(owner.get("login")) if isinstance(owner, dict) else ""
    name = text_of(data.get("name"))
    license_id, license_url = license_of(data.get("license"))
    html_url = text_of(data.get("html_url"))
    fallback_owner, fallback_name = full_name.split("/", 1)
    return Repository(
        owner=login or fallback_owner,
        name=name or fallback_name,
        default_branch=default_branch,
        license=license_id,
        license_url=license_url,
        html_url=html_url.rstrip("/") if html_url.startswith(("https://", "http://")) else None,
    )


def license_of(value) -> tuple[str, str | None]:
    """Return the SPDX id and its SPDX page from a repository's ``license`` object.

    "unknown" stands for no licence and for ``NOASSERTION``, GitHub's value for a
    licence file it could not identify.
    """
    if not isinstance(value, dict):
        return UNKNOWN_LICENSE, None
    spdx_id = text_of(value.get("spdx_id"))
    if not spdx_id or spdx_id == "NOASSERTION":
        return UNKNOWN_LICENSE, None
    return spdx_id, f"https://spdx.org/licenses/{quote(spdx_id)}.html"


def model_entries(tree, formats: tuple[str, ...], full_name: str) -> list[dict]:
    """Return the tree's blobs whose suffix is one of ``formats``, sorted by path.
    An entry without a usable path is skipped."""
    if not isinstance(tree, dict) or not isinstance(tree.get("tree"), list):
        raise _format_error(f"the file tree of {full_name} has no 'tree' list")
    suffixes = {f".{file_format}" for file_format in formats}
    entries = []
    for entry in tree["tree"]:
        if not isinstance(entry, dict) or entry.get("type") != "blob":
            continue
        path = text_of(entry.get("path"))
        if PurePosixPath(path).suffix.lower() not in suffixes:
            continue
        try:
            _check_repository_path(path)
        except ConfigurationError:
            log.warning("platform=%s skipped the path %r in %s", PLATFORM_ID, path, full_name)
            continue
        entries.append(entry)
    return sorted(entries, key=lambda entry: entry["path"].lower())


def asset_from_tree_entry(repository: Repository, ref: str, entry: dict) -> Asset:
    """Map a tree entry to an ``Asset``; see ``asset_from_file`` for its size."""
    file = FileRef(repository.owner, repository.name, entry["path"], ref)
    return asset_from_file(
        repository,
        file,
        url=repository.blob_url(ref, file.path),
        size=size_of(entry.get("size")),
        sha=text_of(entry.get("sha")),
    )


def asset_from_file(
    repository: Repository, file: FileRef, *, url: str, size: int | None, sha: str
) -> Asset:
    """Return the ``Asset`` of a model file; ``sha`` is its git blob sha, the version.

    For a file stored with Git LFS, GitHub's trees and contents give the size of the
    pointer file (about 130 bytes), not of the model. Telling them apart would take a
    request per file, so a binary model smaller than a pointer can be
    (``MAX_LFS_POINTER_SIZE``) gets an unknown size instead.
    """
    return Asset(
        platform=PLATFORM_ID,
        asset_id=file.asset_id,
        name=file.name,
        author=repository.owner,
        license=repository.license,
        license_url=repository.license_url,
        url=url,
        download_size=None if _may_be_lfs_pointer(file, size) else size,
        version=sha or None,
        formats=(MODEL_SUFFIXES[file.suffix],),
    )


def _may_be_lfs_pointer(file: FileRef, size: int | None) -> bool:
    # NOTE: a real GLB or binary FBX this small (a few triangles) also shows as unknown.
    return (
        size is not None
        and size < MAX_LFS_POINTER_SIZE
        and file.suffix in BINARY_MODEL_SUFFIXES
    )


def _code_search_file(item) -> tuple[FileRef, dict]:
    """Return the file of a code search result and the result itself. The ref is the
    commit in the result's ``url`` (``...contents/<path>?ref=<commit>``)."""
    if not isinstance(item, dict):
        raise _format_error("a code search result is not a JSON object")
    repository = item.get("repository")
    full_name = text_of(repository.get("full_name")) if isinstance(repository, dict) else ""
    path = text_of(item.get("path"))
    if "/" not in full_name or not path:
        raise _format_error("a code search result has no 'path' or 'repository.full_name'")
    owner, repo = full_name.split("/", 1)
    ref = parse_qs(urlsplit(text_of(item.get("url"))).query).get("ref", [""])[0]
    return FileRef(owner, repo, path, ref or None), item


def asset_from_code_result(file: FileRef, item: dict, repository: Repository | None) -> Asset:
    """Map a code search result to an ``Asset``; its size is unknown until download."""
    suffix_format = MODEL_SUFFIXES.get(file.suffix)
    return Asset(
        platform=PLATFORM_ID,
        asset_id=file.asset_id,
        name=file.name,
        author=repository.owner if repository else file.owner,
        license=repository.license if repository else UNKNOWN_LICENSE,
        license_url=repository.license_url if repository else None,
        url=text_of(item.get("html_url")) or None,
        version=text_of(item.get("sha")) or None,
        formats=(suffix_format,) if suffix_format else (),
    )


def _api_messages(extra: dict[int, str] | None = None) -> dict[int, str]:
    # NOTE: a secondary rate limit can also respond 403 with neither Retry-After nor
    # X-RateLimit-Remaining 0. That looks like denied access, so the 403 message names
    # both cases and GitHub's own message follows it.
    messages = {
        401: "the token was rejected (HTTP 401): it is invalid, expired or revoked. "
        f"Create a new one at {TOKEN_PAGE} and put it in {key_place(PLATFORM_ID)}",
        403: "access denied (HTTP 403). The token may lack access to a private "
        "repository, or GitHub's secondary rate limit applies, in which case wait a "
        "minute and try again",
        422: "GitHub could not run this search (HTTP 422). Use plain words without "
        "quotes or qualifiers",
    }
    messages.update(extra or {})
    return messages


def _missing_file_message(file: FileRef) -> str:
    return (
        f"'{file.path}' was not found in {file.full_name} at {file.ref} (HTTP 404): it "
        "was moved or deleted, or the repository is private. Search again"
    )


def _file_error(error: MeshportError, file: FileRef, needed_by: str | None = None):
    """Return the error of a failed file transfer in words that name the file."""
    where = f"'{file.path}' in {file.full_name} at {file.ref}"
    if needed_by:
        where += f", which '{needed_by}' needs,"
    if isinstance(error, NotFoundError):
        return NotFoundError(
            f"{LABEL}: {where} was not found (HTTP 404). The model is incomplete in "
            "the repository, or the file was moved or deleted; search again.",
            platform=PLATFORM_ID,
            status=error.status,
        )
    if isinstance(error, AccessDeniedError):
        return NotDownloadableError(
            f"{LABEL}: access to {where} was denied (HTTP 403). GitHub's API serves files "
            "up to 100 MB from repositories the token can read; download a larger file "
            "from its page on github.com and import it.",
            platform=PLATFORM_ID,
            status=error.status,
        )
    return error


def _json_of(response: requests.Response):
    try:
        return response.json()
    except ValueError as error:
        raise _format_error(f"the response from {redact_url(response.url)} is not JSON") from error


def _format_error(problem: str) -> ResponseFormatError:
    return response_format_error(LABEL, PLATFORM_ID, problem)
