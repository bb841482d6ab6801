"""GitHub (official REST API): find model files in repositories and download them.

There are two ways to find models:

- Code search (``GET /search/code``) needs a token. GitHub indexes only text files
  under 384 KB on the default branch, so it finds ``.gltf`` and ``.obj`` files but
  never GLB or binary FBX.
- A repository listing (``filters={"repo": "owner/name"}``) reads the repository's
  whole tree in one request (``GET /repos/{o}/{r}/git/trees/{ref}?recursive=1``) and
  keeps .glb, .gltf, .fbx and .obj files. It works without a token.

Files come from the contents API with ``Accept: application/vnd.github.raw``, which
serves files up to 100 MB. A file stored with Git LFS arrives as a small pointer file,
and its bytes come from GitHub's media host instead, checked against the pointer's
sha256 and size. A .gltf brings its buffers and images, and an .obj its material
libraries and their textures, from the same folder of the repository.

Asset ids look like ``owner/name:path/in/repo.gltf@ref``. Each repository has its own
licence, taken from the ``license.spdx_id`` that GitHub detected.
"""

from __future__ import annotations

import base64
import binascii
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
from urllib.parse import parse_qs, quote, unquote, urlsplit

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

log = logging.getLogger(__name__)

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
# A URI scheme such as "https:" or "file:", and also a Windows drive such as "C:".
SCHEME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Characters Windows does not allow in file names; ":" would also open an NTFS stream.
WINDOWS_INVALID_CHARACTERS = frozenset('<>:"|?*')
FOLDER_NAME_PATTERN = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class FileRef:
    """One file of one repository. ``ref`` is a branch, tag or commit; None means
    the repository's default branch."""

    owner: str
    repo: str
    path: str
    ref: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix.lower()

    @property
    def asset_id(self) -> str:
        text = f"{self.full_name}:{self.path}"
        return f"{text}@{self.ref}" if self.ref else text

    def sibling(self, relative: str) -> FileRef:
        """Return the file at ``relative`` (already checked) from this file's folder."""
        folder = posixpath.dirname(self.path)
        path = posixpath.join(folder, relative) if folder else relative
        return dataclasses.replace(self, path=path)


@dataclass(frozen=True)
class Repository:
    """The fields of ``GET /repos/{owner}/{repo}`` that Meshport uses."""

    owner: str
    name: str
    default_branch: str
    license: str
    license_url: str | None
    html_url: str | None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def blob_url(self, ref: str, path: str) -> str | None:
        if not self.html_url:
            return None
        return f"{self.html_url}/blob/{quote(ref, safe='/')}/{quote(path)}"


@dataclass(frozen=True)
class LfsPointer:
    """A parsed Git LFS pointer file: the sha256 and size of the real file."""

    oid: str
    size: int


@dataclass(frozen=True)
class ListingRequest:
    """One page of a repository listing. ``token`` encodes the page at another offset
    with the ref already resolved, so later pages list the same commit's files."""

    owner: str
    repo: str
    ref: str | None
    text: str
    formats: tuple[str, ...]
    count: int
    offset: int = 0

    def token(self, ref: str, offset: int) -> str:
        payload = dataclasses.asdict(dataclasses.replace(self, ref=ref, offset=offset))
        data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return "tree:" + base64.urlsafe_b64encode(data).decode("ascii")

    @classmethod
    def from_token(cls, token: str) -> ListingRequest:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
            listing = cls(**data)
            valid = (
                all(isinstance(value, str) for value in (listing.owner, listing.repo, listing.text))
                and isinstance(listing.ref, str)
                and isinstance(listing.formats, list)
                and set(listing.formats) <= set(LISTED_FORMATS)
                and _whole(listing.count)
                and _whole(listing.offset)
            )
            if not valid:
                raise ValueError("wrong field types")
            _check_repository_name(listing.owner, listing.repo)
            return dataclasses.replace(
                listing, formats=tuple(listing.formats), count=_page_size(listing.count)
            )
        except (ValueError, TypeError, binascii.Error, UnicodeError, ConfigurationError):
            raise _page_token_error(token) from None


class GitHubClient(PlatformClient):
    """A client for GitHub's REST API, optionally with a token.

    The token is a personal access token sent as ``Authorization: Bearer <token>``
    (5000 requests per hour instead of 60). Without one, a signed-in
    ``token_manager`` (the OAuth device flow) supplies it. ``sleep`` and
    ``retry_policy`` go to ``PlatformHttp``, so tests run retries without waiting.
    """

    platform_id = PLATFORM_ID
    label = LABEL
    key_optional = True
    notice = NOTICE
    formats = LISTED_FORMATS

    def __init__(
        self,
        settings,
        *,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        token_manager: TokenManager | None = None,
    ):
        super().__init__(settings)
        platform = self.platform_settings
        if not platform.base_url:
            platform = dataclasses.replace(platform, base_url=DEFAULT_BASE_URLS[PLATFORM_ID])
        _check_url(platform.base_url, "base URL", DEFAULT_BASE_URLS[PLATFORM_ID])

        version = {"X-GitHub-Api-Version": API_VERSION}
        options = {"label": LABEL, "auth_scheme": "Bearer", "retry_policy": retry_policy}
        # API responses are JSON. File transfers need the raw media type on a session
        # of their own, because core.download sends the session's headers.
        self.http = PlatformHttp(
            platform,
            settings,
            extra_headers={**version, "Accept": JSON_MEDIA_TYPE},
            sleep=sleep,
            **options,
        )
        self.file_http = PlatformHttp(
            platform,
            settings,
            extra_headers={**version, "Accept": RAW_MEDIA_TYPE},
            sleep=sleep,
            **options,
        )

        self.media_url = resolve_media_url()
        self._media_host = urlsplit(self.media_url).netloc
        self._quota_refusals = threading.local()
        self.file_http.session.hooks["response"].append(self._note_quota_refusal)

        self._has_token = self.http.has_key
        if not self._has_token and token_manager is not None and token_manager.signed_in():
            api_host = urlsplit(self.http.base_url).netloc
            for http in (self.http, self.file_http):
                http.session.auth = BearerTokenAuth(token_manager, api_host)
            self._has_token = True

    def close(self) -> None:
        self.http.close()
        self.file_http.close()

    # Search

    def search(self, query: SearchQuery, context: JobContext | None = None) -> SearchPage:
        """Return one page of model files.

        With ``filters["repo"]`` ("owner/name" or its github.com URL), list that
        repository's .glb, .gltf, .fbx and .obj files whose path contains every word of
        ``query.text``. ``filters["ref"]`` picks a branch, tag or commit other than the
        default branch, and ``filters["format"]`` keeps one format. Without a
        repository, run a code search for ``query.text`` in .gltf files, or in .obj
        files with ``filters["format"] = "obj"``. Code search needs a token.

        Raises ``AuthenticationError`` for a code search without a token and
        ``ConfigurationError`` for an unknown filter, an invalid value or an empty
        code search.
        """
        cancel = _cancel_check(context)
        if query.page_token:
            return self._search_from_token(query.page_token, cancel)
        filters = _checked_filters(query.filters or {})
        if "repo" in filters:
            owner, repo = filters["repo"]
            listing = ListingRequest(
                owner,
                repo,
                filters.get("ref"),
                query.text.strip(),
                (filters["format"],) if "format" in filters else LISTED_FORMATS,
                _page_size(query.count),
            )
            return self._list_repository(listing, cancel)
        return self._search_code(query, filters.get("format", "gltf"), cancel)

    def _search_code(self, query: SearchQuery, file_format: str, cancel) -> SearchPage:
        if file_format not in SEARCH_FORMATS:
            raise ConfigurationError(
                f"{LABEL}: code search cannot find .{file_format} files, because GitHub "
                "indexes only text files. Filter by a repository to list its GLB and FBX "
                "files, or search for gltf or obj.",
                platform=PLATFORM_ID,
            )
        text = query.text.strip()
        if not text:
            raise ConfigurationError(
                f"{LABEL}: code search needs a word to search for. Type one, or filter by "
                "a repository to list its model files.",
                platform=PLATFORM_ID,
            )
        self._require_token(
            "code search needs a token, even for public repositories, but listing a "
            "repository with the 'repo' filter works without one"
        )
        params = {"q": f"{text} extension:{file_format}", "per_page": str(_page_size(query.count))}
        response = self.http.request(
            "GET",
            "search/code",
            params=params,
            cache_ttl=SEARCH_TTL,
            should_cancel=cancel,
            error_messages=_api_messages(),
        )
        return self._code_search_page(response, cancel)

    def _search_from_token(self, token: str, cancel) -> SearchPage:
        if token.startswith("tree:"):
            return self._list_repository(ListingRequest.from_token(token[len("tree:") :]), cancel)
        if token.startswith("code:"):
            url = self._checked_next_url(token[len("code:") :])
            self._require_token("code search needs a token")
            response = self.http.request(
                "GET",
                url,
                cache_ttl=SEARCH_TTL,
                should_cancel=cancel,
                error_messages=_api_messages(),
            )
            return self._code_search_page(response, cancel)
        raise _page_token_error(token)

    def _code_search_page(self, response: requests.Response, cancel) -> SearchPage:
        data = _json_of(response)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise _format_error("the code search response has no 'items' list")
        found = [_code_search_file(item) for item in data["items"]]
        repositories = self._repositories_for({file.full_name for file, _ in found}, cancel)
        results = [
            asset_from_code_result(file, item, repositories.get(file.full_name))
            for file, item in found
        ]
        next_url = response.links.get("next", {}).get("url")
        notice = ""
        if data.get("incomplete_results") is True:
            notice = (
                "GitHub's search timed out and returned only part of the matches. Search "
                "again, or use more specific words."
            )
            log.warning("platform=%s code search returned incomplete results", PLATFORM_ID)
        return SearchPage(results, f"code:{next_url}" if next_url else None, notice)

    def _repositories_for(self, full_names: set[str], cancel) -> dict[str, Repository]:
        """Return the repositories of search results. One that cannot be read is left
        out, so its files show the licence as unknown instead of failing the search."""
        found = {}
        for full_name in sorted(full_names):
            owner, repo = full_name.split("/", 1)
            try:
                found[full_name] = self._repository(owner, repo, cancel)
            except (JobCancelledError, RateLimitedError, AuthenticationError):
                raise
            except MeshportError as error:
                log.warning(
                    "platform=%s licence of %s unknown, because its details failed: %s",
                    PLATFORM_ID,
                    full_name,
                    error,
                )
        return found

    def _list_repository(self, listing: ListingRequest, cancel) -> SearchPage:
        repository = self._repository(listing.owner, listing.repo, cancel)
        ref = listing.ref or repository.default_branch
        tree = self.http.get_json(
            f"repos/{listing.owner}/{listing.repo}/git/trees/{quote(ref, safe='')}",
            params={"recursive": "1"},
            cache_ttl=TREE_TTL,
            should_cancel=cancel,
            error_messages=_api_messages(
                {
                    404: f"the repository {repository.full_name} has no branch, tag or "
                    f"commit '{ref}' (HTTP 404). Check the ref, or leave it empty for the "
                    "default branch"
                }
            ),
        )
        entries = model_entries(tree, listing.formats, repository.full_name)
        words = listing.text.lower().split()
        matches = [
            entry for entry in entries if all(word in entry["path"].lower() for word in words)
        ]

        end = listing.offset + listing.count
        results = [
            asset_from_tree_entry(repository, ref, entry) for entry in matches[listing.offset : end]
        ]
        next_page = listing.token(ref, end) if end < len(matches) else None

        notice = ""
        if tree.get("truncated") is True:
            notice = (
                f"{repository.full_name} has too many files for GitHub to list at once, so "
                "only part of it was searched and some models may be missing."
            )
            log.warning(
                "platform=%s the tree of %s at %s is truncated; listed %d model files",
                PLATFORM_ID,
                repository.full_name,
                ref,
                len(entries),
            )
        return SearchPage(results, next_page, notice)

    def _repository(self, owner: str, repo: str, cancel=None) -> Repository:
        """Return the repository's details; the response cache keeps them an hour."""
        full_name = f"{owner}/{repo}"
        data = self.http.get_json(
            f"repos/{owner}/{repo}",
            cache_ttl=REPOSITORY_TTL,
            should_cancel=cancel,
            error_messages=_api_messages(
                {
                    404: f"the repository {full_name} was not found (HTTP 404). Check the "
                    "name; a private repository also needs a token that can read it"
                }
            ),
        )
        return repository_from_json(data, full_name)

    # One asset

    def get_asset(self, asset_id: str, context: JobContext | None = None) -> Asset:
        """Return the file's record from ``GET /repos/{o}/{r}/contents/{path}`` with the
        repository's licence. Raises ``NotFoundError`` when the file is gone."""
        cancel = _cancel_check(context)
        file = self.parse_file_ref(asset_id)
        repository = self._repository(file.owner, file.repo, cancel)
        file = dataclasses.replace(file, ref=file.ref or repository.default_branch)
        data = self.http.get_json(
            f"repos/{file.owner}/{file.repo}/contents/{quote(file.path)}",
            params={"ref": file.ref},
            cache_ttl=CONTENTS_TTL,
            should_cancel=cancel,
            error_messages=_api_messages({404: _missing_file_message(file)}),
        )
        if not isinstance(data, dict) or data.get("type") != "file":
            raise ConfigurationError(
                f"{LABEL}: '{file.path}' in {file.full_name} is a folder or a link, not a "
                "file. Choose a .glb, .gltf, .fbx or .obj file.",
                platform=PLATFORM_ID,
            )
        return Asset(
            platform=PLATFORM_ID,
            asset_id=file.asset_id,
            name=file.name,
            author=repository.owner,
            license=repository.license,
            license_url=repository.license_url,
            url=_text(data.get("html_url")) or repository.blob_url(file.ref, file.path),
            download_size=_int(data.get("size")),
            version=_text(data.get("sha")) or None,
            formats=(MODEL_SUFFIXES[file.suffix],),
        )

    def validate_key(self, context: JobContext | None = None) -> AccountInfo:
        """GET ``/user`` with the token and return the account it belongs to.

        Raises ``AuthenticationError`` for a missing or rejected token,
        ``NetworkError`` when GitHub cannot be reached and ``RateLimitedError`` when
        throttled.
        """
        self._require_token("no token is set, so there is nothing to check")
        data = self.http.get_json(
            "user", error_messages=_api_messages(), should_cancel=_cancel_check(context)
        )
        if not isinstance(data, dict):
            raise _format_error("the /user response is not a JSON object")
        login = _text(data.get("login"))
        if not login:
            raise _format_error("the /user response has no 'login'")
        plan = data.get("plan")
        plan_name = _text(plan.get("name")) if isinstance(plan, dict) else ""
        return AccountInfo(PLATFORM_ID, login, plan_name or None)

    def parse_asset_id(self, text: str) -> str:
        """Return the asset id (``owner/name:path@ref``) of an id or a github.com file
        URL (``https://github.com/owner/name/blob/<ref>/<path>``).

        Raises ``ConfigurationError`` for other text and ``UnsupportedFileError`` for a
        file that is not .glb, .gltf, .fbx or .obj.
        """
        return self.parse_file_ref(text).asset_id

    def parse_file_ref(self, text: str) -> FileRef:
        """Return the ``FileRef`` of an asset id or a github.com file URL.

        An id's ref is what follows its last "@", so a path that contains "@" needs
        the ref written out. In a URL, the ref is the first segment after ``blob/``,
        so a branch name containing "/" is read as a shorter branch and a path.
        """
        value = (text or "").strip()
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc.lower() in GITHUB_HOSTS:
            file = _file_from_url(parts.path)
        else:
            match = ASSET_ID_PATTERN.fullmatch(value)
            file = None
            if match:
                path, ref = match["rest"], ""
                if "@" in path:
                    path, _, ref = path.rpartition("@")
                file = FileRef(match["owner"], match["repo"], path, ref or None)
        if file is None:
            raise ConfigurationError(
                f"{LABEL}: '{value[:160]}' is not a file id or file URL. Use an id like "
                "'owner/name:models/chair.glb@main' or a link like "
                "https://github.com/owner/name/blob/main/models/chair.glb.",
                platform=PLATFORM_ID,
            )
        _check_repository_name(file.owner, file.repo)
        _check_repository_path(file.path)
        if file.ref is not None:
            _check_ref(file.ref)
        if file.suffix not in MODEL_SUFFIXES:
            raise UnsupportedFileError(
                f"{LABEL}: '{file.name}' is not a model file Meshport can import. Choose a "
                ".glb, .gltf, .fbx or .obj file.",
                platform=PLATFORM_ID,
            )
        return file

    # Download

    def download(
        self,
        asset: Asset,
        destination: Path,
        context: JobContext,
        options: DownloadOptions = DownloadOptions(),
    ) -> DownloadedAsset:
        """Download the file and the files it names into one folder under
        ``destination`` and return the model to import.

        A .gltf's buffers and images must all arrive. An .obj's material libraries
        and their textures are fetched when present, and a missing one is logged. An
        earlier folder of the same file is replaced only after the new one is complete,
        and nothing partial remains when this raises.
        """
        cancel = _cancel_check(context)
        file = self.parse_file_ref(asset.asset_id)
        file_format = MODEL_SUFFIXES[file.suffix]
        _check_format_option(options, file_format)
        _check_file_size(asset.download_size, file)
        context.raise_if_cancelled()
        if file.ref is None:
            default_branch = self._repository(file.owner, file.repo, cancel).default_branch
            file = dataclasses.replace(file, ref=default_branch)

        workspace = _Workspace(Path(destination) / folder_name(file))
        workspace.prepare()
        try:
            model = self._fetch_model(asset, file, workspace, context)
            context.raise_if_cancelled()
            model_path = workspace.install(model)
        except BaseException:
            workspace.discard()
            raise
        context.report_progress(1.0, f"{LABEL}: '{asset.name}' downloaded")
        return DownloadedAsset(asset, model_path, workspace.final, file_format)

    def _fetch_model(self, asset: Asset, file: FileRef, workspace: _Workspace, context) -> Path:
        model = workspace.staging / file.name
        context.report_progress(None, f"{LABEL}: downloading '{file.path}' from {file.full_name}")
        label = f"{asset.name} ({file.full_name})"
        try:
            download_file(
                self.file_http,
                self._contents_url(file),
                model,
                context,
                check=FileCheck(kind="any"),
                authenticated=True,
                label=label,
            )
        except MeshportError as error:
            raise _file_error(error, file) from error
        self._finish_file(file, model, context, label)

        if file.suffix == ".gltf":
            self._fetch_includes(asset, file, gltf_include_paths(model, label), workspace, context)
        elif file.suffix == ".obj":
            libraries = self._fetch_includes(
                asset,
                file,
                obj_material_libraries(model, label),
                workspace,
                context,
                required=False,
            )
            textures = []
            for library in libraries:
                folder = posixpath.dirname(library)
                for path in mtl_texture_paths(workspace.staging / library, label):
                    textures.append(checked_relative_path(posixpath.join(folder, path), label))
            self._fetch_includes(asset, file, textures, workspace, context, required=False)
        return model

    def _fetch_includes(
        self,
        asset: Asset,
        file: FileRef,
        relative_paths: list[str],
        workspace: _Workspace,
        context,
        *,
        required: bool = True,
    ) -> list[str]:
        """Download the files at ``relative_paths`` beside the model and return the
        paths that arrived. Without ``required``, a file that is not found is logged
        and skipped."""
        wanted = [path for path in dict.fromkeys(relative_paths) if path]
        if not wanted:
            return []
        items = [
            DownloadRequest(
                self._contents_url(file.sibling(path)),
                workspace.staging / path,
                FileCheck(kind="any"),
                authenticated=True,
                label=f"{asset.name}: {path}",
            )
            for path in wanted
        ]

        context.report_progress(
            None, f"{LABEL}: downloading {len(items)} files that '{file.name}' needs"
        )
        batch = DownloadBatch(
            self.file_http,
            items,
            context,
            max_parallel=self.settings.max_parallel_downloads,
            stop_on_error=required,
        )
        outcomes = batch.run()

        arrived = []
        failures = []
        for path, outcome in zip(wanted, outcomes):
            if outcome.error is None:
                arrived.append(path)
            elif not required and isinstance(outcome.error, NotFoundError):
                log.warning(
                    "platform=%s %s names %r, which is not in %s at %s; importing without it",
                    PLATFORM_ID,
                    file.path,
                    path,
                    file.full_name,
                    file.ref,
                )
            else:
                failures.append((path, outcome.error))

        real = [pair for pair in failures if not isinstance(pair[1], JobCancelledError)]
        if failures:
            path, error = (real or failures)[0]
            raise _file_error(error, file.sibling(path), needed_by=file.name) from error

        for path in arrived:
            label = f"{asset.name}: {path}"
            self._finish_file(file.sibling(path), workspace.staging / path, context, label)
        return arrived

    def _finish_file(self, file: FileRef, local: Path, context, label: str) -> None:
        """Replace a Git LFS pointer at ``local`` with the real file, then check the
        file's kind by its suffix."""
        pointer = read_lfs_pointer(local, label)
        kind = SUFFIX_KINDS.get(local.suffix.lower())
        if pointer is None:
            verify_file(local, FileCheck(kind=kind), label=label)
            return

        url = self.media_file_url(file)
        log.info(
            "platform=%s %s is a Git LFS pointer (sha256 %s, %d bytes); fetching %s",
            PLATFORM_ID,
            file.path,
            pointer.oid,
            pointer.size,
            redact_url(url),
        )
        self._quota_refusals.seen = False
        try:
            download_file(
                self.file_http,
                url,
                local,
                context,
                check=FileCheck(size=pointer.size, kind="any"),
                authenticated=True,
                label=f"{label} (Git LFS)",
            )
        except MeshportError as error:
            raise self._lfs_error(error, file) from error

        # The sha256 is checked first, because its mismatch is the clearer error.
        digest = sha256_of(local)
        if digest != pointer.oid:
            local.unlink(missing_ok=True)
            raise DownloadError(
                f"{LABEL}: sha256 mismatch for the Git LFS file '{file.path}' of "
                f"{file.full_name} (expected {pointer.oid}, got {digest}). Try the "
                "download again.",
                platform=PLATFORM_ID,
            )
        verify_file(local, FileCheck(kind=kind), label=label)

    def _lfs_error(self, error: MeshportError, file: FileRef) -> MeshportError:
        if getattr(self._quota_refusals, "seen", False):
            return NotDownloadableError(
                f"{LABEL}: {file.full_name} is over its Git LFS data quota, so GitHub does "
                f"not serve '{file.path}' until the owner buys more bandwidth or the "
                "monthly quota resets. Try again later or ask the repository's owner.",
                platform=PLATFORM_ID,
                status=error.status,
            )
        if isinstance(error, NotFoundError):
            return NotFoundError(
                f"{LABEL}: the Git LFS object of '{file.path}' in {file.full_name} is "
                f"missing on {self._media_host} (HTTP 404), although the repository has "
                "its pointer. Ask the repository's owner to push it.",
                platform=PLATFORM_ID,
                status=error.status,
            )
        return error

    def _note_quota_refusal(self, response: requests.Response, *args, **kwargs):
        """Mark this thread's transfer when the media host refuses for the LFS quota;
        ``_lfs_error`` reads the mark, because the mapped error lacks the body."""
        if response.status_code >= 400 and urlsplit(response.url).netloc == self._media_host:
            text = _peek_text(response)
            if any(phrase in text.lower() for phrase in QUOTA_PHRASES):
                self._quota_refusals.seen = True
        return response

    def _contents_url(self, file: FileRef) -> str:
        path = f"repos/{file.owner}/{file.repo}/contents/{quote(file.path)}"
        return self.file_http.url(f"{path}?ref={quote(file.ref or '', safe='')}")

    def media_file_url(self, file: FileRef) -> str:
        """Return the URL of a Git LFS file's bytes on the media host."""
        return (
            f"{self.media_url}/media/{file.owner}/{file.repo}/"
            f"{quote(file.ref or '', safe='/')}/{quote(file.path)}"
        )

    def _checked_next_url(self, url: str) -> str:
        base = urlsplit(self.http.base_url)
        target = urlsplit(url)
        same_origin = (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower())
        if not same_origin or not target.path.endswith("/search/code"):
            raise ResponseFormatError(
                f"{LABEL}: the next-page link {redact_url(url)} is not a code search on "
                f"{base.netloc}, so it was not followed. Start the search again.",
                platform=PLATFORM_ID,
            )
        return url

    def _require_token(self, reason: str) -> None:
        # Offline, the request raises OfflineError, whose message is the more useful one.
        if self._has_token or not self.settings.online_access:
            return
        raise AuthenticationError(
            f"{LABEL}: {reason}. Create a personal access token at {TOKEN_PAGE} and paste "
            "it into Meshport's preferences.",
            platform=PLATFORM_ID,
        )


class _Workspace:
    """The files of one download: a hidden staging folder beside ``final`` until
    ``install`` renames it into place."""

    def __init__(self, final: Path):
        self.final = final
        self.staging = final.with_name(f".{final.name}.incomplete")
        self._replaced = final.with_name(f".{final.name}.replaced")

    def prepare(self) -> None:
        self.discard()
        self.staging.mkdir(parents=True)

    def install(self, model: Path) -> Path:
        """Move the staging folder to ``final`` and return ``model``'s new path."""
        relative = model.relative_to(self.staging)
        if self.final.exists():
            self.final.rename(self._replaced)
        self.staging.rename(self.final)
        shutil.rmtree(self._replaced, ignore_errors=True)
        return self.final / relative

    def discard(self) -> None:
        """Delete what this download wrote and restore an earlier folder moved aside."""
        shutil.rmtree(self.staging, ignore_errors=True)
        if self._replaced.exists() and not self.final.exists():
            self._replaced.rename(self.final)
        shutil.rmtree(self._replaced, ignore_errors=True)


# Responses


def repository_from_json(data, full_name: str) -> Repository:
    """Map ``GET /repos/{owner}/{repo}`` to a ``Repository``; a missing licence gives
    "unknown", and a missing ``default_branch`` raises ``ResponseFormatError``."""
    if not isinstance(data, dict):
        raise _format_error(f"the details of {full_name} are not a JSON object")
    default_branch = _text(data.get("default_branch"))
    if not default_branch:
        raise _format_error(f"the details of {full_name} have no 'default_branch'")
    owner = data.get("owner")
    login = _text(owner.get("login")) if isinstance(owner, dict) else ""
    name = _text(data.get("name"))
    license_id, license_url = license_of(data.get("license"))
    html_url = _text(data.get("html_url"))
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
    spdx_id = _text(value.get("spdx_id"))
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
        path = _text(entry.get("path"))
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
    """Map a tree entry to an ``Asset``.

    NOTE: for a file stored with Git LFS, the tree's ``size`` is the size of its
    pointer file (about 130 bytes), not of the model.
    """
    file = FileRef(repository.owner, repository.name, entry["path"], ref)
    return Asset(
        platform=PLATFORM_ID,
        asset_id=file.asset_id,
        name=file.name,
        author=repository.owner,
        license=repository.license,
        license_url=repository.license_url,
        url=repository.blob_url(ref, file.path),
        download_size=_int(entry.get("size")),
        version=_text(entry.get("sha")) or None,
        formats=(MODEL_SUFFIXES[file.suffix],),
    )


def _code_search_file(item) -> tuple[FileRef, dict]:
    """Return the file of a code search result and the result itself. The ref is the
    commit in the result's ``url`` (``...contents/<path>?ref=<commit>``)."""
    if not isinstance(item, dict):
        raise _format_error("a code search result is not a JSON object")
    repository = item.get("repository")
    full_name = _text(repository.get("full_name")) if isinstance(repository, dict) else ""
    path = _text(item.get("path"))
    if "/" not in full_name or not path:
        raise _format_error("a code search result has no 'path' or 'repository.full_name'")
    owner, repo = full_name.split("/", 1)
    ref = parse_qs(urlsplit(_text(item.get("url"))).query).get("ref", [""])[0]
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
        url=_text(item.get("html_url")) or None,
        version=_text(item.get("sha")) or None,
        formats=(suffix_format,) if suffix_format else (),
    )


# Files named by a model


def gltf_include_paths(path: Path, label: str) -> list[str]:
    """Return the relative paths of the buffers and images a .gltf names.

    ``data:`` URIs are embedded and need nothing. Raises ``UnsafeArchiveError`` for a
    URI with a scheme, an absolute path or a ".." segment, and ``DownloadError`` for a
    file that is not a glTF JSON object.
    """
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise DownloadError(f"{label}: the .gltf file is not valid JSON ({error}).") from error
    if not isinstance(document, dict):
        raise DownloadError(f"{label}: the .gltf file is not a JSON object.")
    paths = []
    for section in ("buffers", "images"):
        entries = document.get(section)
        for entry in entries if isinstance(entries, list) else []:
            uri = entry.get("uri") if isinstance(entry, dict) else None
            if not isinstance(uri, str) or uri.startswith("data:"):
                continue
            # glTF URIs are RFC 3986 references, so a space arrives as "%20".
            paths.append(checked_relative_path(unquote(uri), label, uri))
    return paths


def obj_material_libraries(path: Path, label: str) -> list[str]:
    """Return the relative paths of the .mtl files an .obj names with ``mtllib``.

    NOTE: names are split at spaces, so a file name that contains a space is not found.
    """
    names = []
    for line in _text_lines(path):
        keyword, _, rest = line.strip().partition(" ")
        if keyword == "mtllib":
            names += rest.split()
    return [checked_relative_path(name, label) for name in names]


def mtl_texture_paths(path: Path, label: str) -> list[str]:
    """Return the texture files a .mtl names, relative to its folder: the last word of
    each ``map_*``, ``bump``, ``disp``, ``decal`` and ``refl`` statement, after any
    options such as ``-bm 0.5``."""
    if not path.is_file():
        return []
    names = []
    for line in _text_lines(path):
        words = line.strip().split()
        if len(words) < 2:
            continue
        keyword = words[0].lower()
        if keyword.startswith("map_") or keyword in ("bump", "disp", "decal", "refl"):
            names.append(words[-1])
    return [checked_relative_path(name, label) for name in names]


def checked_relative_path(reference: str, label: str, original: str | None = None) -> str:
    """Return ``reference`` as a normal relative path inside the model's folder, or
    raise ``UnsafeArchiveError`` when it could point anywhere else."""
    text = reference.replace("\\", "/")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    problem = None
    if SCHEME_PATTERN.match(text):
        problem = "is an absolute URI, not a file beside the model"
    elif text.startswith("/"):
        problem = "is an absolute path"
    elif ".." in parts:
        problem = "climbs out of the model's folder with '..'"
    elif not parts:
        problem = "names no file"
    elif any(ord(char) < 32 or char in WINDOWS_INVALID_CHARACTERS for char in text):
        problem = "contains a character that file names cannot hold"
    if problem:
        raise UnsafeArchiveError(
            f"{label}: the reference '{original or reference}' {problem}, so the download "
            "was stopped. Choose another model or report it to the repository's owner.",
            platform=PLATFORM_ID,
        )
    return "/".join(parts)


def read_lfs_pointer(path: Path, label: str) -> LfsPointer | None:
    """Return the pointer when ``path`` is a Git LFS pointer file, else None.

    A file that starts like a pointer but lacks a valid ``oid sha256:`` or ``size``
    line raises ``DownloadError``.
    """
    if path.stat().st_size >= MAX_LFS_POINTER_SIZE:
        return None
    data = path.read_bytes()
    if not data.startswith(LFS_POINTER_START):
        return None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None
    fields = dict(line.partition(" ")[::2] for line in lines if line)
    if fields.get("version") not in LFS_SPEC_URLS:
        return None
    oid = fields.get("oid", "")
    size = fields.get("size", "")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", oid) or not size.isdigit():
        raise DownloadError(
            f"{label}: the file is a Git LFS pointer without a valid 'oid sha256:' or "
            "'size' line, so the real file cannot be fetched. Report it to the "
            "repository's owner.",
            platform=PLATFORM_ID,
        )
    return LfsPointer(oid[len("sha256:") :], int(size))


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_name(file: FileRef) -> str:
    """Return the download folder of a file: readable names and a digest of the id,
    so two files or refs never share a folder."""
    digest = hashlib.sha256(file.asset_id.encode()).hexdigest()[:12]
    stem = FOLDER_NAME_PATTERN.sub("_", PurePosixPath(file.path).stem).strip("._")[:60]
    return f"{file.owner}_{file.repo}_{stem or 'model'}_{digest}"


def resolve_media_url() -> str:
    """Return the Git LFS media host: ``MESHPORT_GITHUB_MEDIA_URL`` if set, else
    GitHub's own."""
    value = os.environ.get(MEDIA_URL_VARIABLE, "").strip().rstrip("/")
    if not value:
        return DEFAULT_MEDIA_URL
    _check_url(value, MEDIA_URL_VARIABLE, DEFAULT_MEDIA_URL)
    log.info("platform=%s media URL %s from %s", PLATFORM_ID, redact_url(value), MEDIA_URL_VARIABLE)
    return value


# Checks and helpers


def _checked_filters(filters: dict) -> dict:
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        raise ConfigurationError(
            f"{LABEL}: unknown search filter '{unknown[0]}'. Use one of: "
            f"{', '.join(FILTER_NAMES)}.",
            platform=PLATFORM_ID,
        )
    checked = {}
    repo = filters.get("repo")
    if repo not in (None, ""):
        checked["repo"] = _repository_from_text(repo)
    ref = filters.get("ref")
    if ref not in (None, ""):
        if "repo" not in checked:
            raise ConfigurationError(
                f"{LABEL}: the filter 'ref' needs the filter 'repo' too, because code "
                "search covers default branches only.",
                platform=PLATFORM_ID,
            )
        checked["ref"] = _check_ref(ref)
    file_format = filters.get("format")
    if file_format not in (None, ""):
        value = str(file_format).strip().lower().lstrip(".")
        if value not in LISTED_FORMATS:
            raise ConfigurationError(
                f"{LABEL}: '{file_format}' is not a valid value of the filter 'format'. Use "
                f"one of: {', '.join(LISTED_FORMATS)}.",
                platform=PLATFORM_ID,
            )
        checked["format"] = value
    return checked


def _repository_from_text(value) -> tuple[str, str]:
    """Return (owner, name) from "owner/name" or a github.com repository URL."""
    text = value.strip() if isinstance(value, str) else ""
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc.lower() in GITHUB_HOSTS:
        text = "/".join(parts.path.strip("/").split("/")[:2])
    text = text.removesuffix(".git")
    owner, _, repo = text.partition("/")
    try:
        _check_repository_name(owner, repo)
    except ConfigurationError:
        raise ConfigurationError(
            f"{LABEL}: '{value}' is not a repository. Write it as owner/name, for "
            "example KhronosGroup/glTF-Sample-Assets.",
            platform=PLATFORM_ID,
        ) from None
    return owner, repo


def _file_from_url(path: str) -> FileRef | None:
    segments = [unquote(segment) for segment in path.strip("/").split("/")]
    if len(segments) < 5 or segments[2] not in ("blob", "raw"):
        return None
    owner, repo, _, ref = segments[:4]
    return FileRef(owner, repo, "/".join(segments[4:]), ref)


def _check_repository_name(owner: str, repo: str) -> None:
    valid = OWNER_PATTERN.fullmatch(owner or "") and REPOSITORY_PATTERN.fullmatch(repo or "")
    if not valid or repo in (".", ".."):
        raise ConfigurationError(
            f"{LABEL}: '{owner}/{repo}' is not a valid repository name. Write it as owner/name.",
            platform=PLATFORM_ID,
        )


def _check_repository_path(path: str) -> None:
    parts = path.split("/")
    unsafe = (
        not path
        or "\\" in path
        or any(part in ("", ".", "..") for part in parts)
        or any(ord(char) < 32 for char in path)
    )
    if unsafe:
        raise ConfigurationError(
            f"{LABEL}: '{path[:160]}' is not a valid file path in a repository. Write it "
            "without a leading '/', '.' or '..' segments, like models/chair.glb.",
            platform=PLATFORM_ID,
        )


def _check_ref(ref) -> str:
    text = ref.strip() if isinstance(ref, str) else ""
    invalid = (
        not text
        or ".." in text
        or text.startswith("/")
        or any(ord(char) <= 32 or char in "~^:?*[\\" for char in text)
    )
    if invalid:
        raise ConfigurationError(
            f"{LABEL}: '{ref}' is not a valid branch, tag or commit name. Use a name like "
            "main or a commit id.",
            platform=PLATFORM_ID,
        )
    return text


def _check_format_option(options: DownloadOptions, file_format: str) -> None:
    requested = (options.file_format or "").strip().lower()
    if requested and requested != file_format:
        raise ConfigurationError(
            f"{LABEL}: this asset is one .{file_format} file, so it cannot be downloaded "
            f"as {options.file_format}. Leave the format empty or choose {file_format}.",
            platform=PLATFORM_ID,
        )


def _check_file_size(size: int | None, file: FileRef) -> None:
    if size is not None and size > MAX_FILE_SIZE:
        raise NotDownloadableError(
            f"{LABEL}: '{file.path}' in {file.full_name} has {size / 2**20:.0f} MiB, more "
            "than the 100 MB GitHub's API serves. Download it from its page on github.com "
            "and import the file.",
            platform=PLATFORM_ID,
        )


def _check_url(url: str, what: str, example: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{LABEL}: the {what} '{redact_url(url)}' is not an http(s) URL. Set it like "
            f"{example}.",
            platform=PLATFORM_ID,
        )


def _api_messages(extra: dict[int, str] | None = None) -> dict[int, str]:
    # NOTE: GitHub's secondary rate limits respond 403 with Retry-After while
    # X-RateLimit-Remaining is not 0. core.ratelimit does not treat that as rate
    # limited, so the 403 message names the case and GitHub's own message follows it.
    messages = {
        401: "the token was rejected (HTTP 401): it is invalid, expired or revoked. "
        f"Create a new one at {TOKEN_PAGE} and paste it into Meshport's preferences",
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


def _peek_text(response: requests.Response) -> str:
    """Return the start of an error response's body, read from its stream."""
    raw = response.raw
    if raw is None:
        return ""
    try:
        data = raw.read(QUOTA_PEEK_BYTES, decode_content=True)
    except (OSError, ValueError, urllib3.exceptions.HTTPError):
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""


def _json_of(response: requests.Response):
    try:
        return response.json()
    except ValueError as error:
        raise _format_error(f"the response from {redact_url(response.url)} is not JSON") from error


def _text_lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", "replace").splitlines()


def _page_size(count) -> int:
    return max(1, min(MAX_COUNT, count if _whole(count) else 24))


def _page_token_error(token: str) -> ConfigurationError:
    return ConfigurationError(
        f"{LABEL}: the page token '{token[:40]}' is not one this client returned. Start "
        "the search again.",
        platform=PLATFORM_ID,
    )


def _cancel_check(context: JobContext | None) -> Callable[[], bool] | None:
    if context is None:
        return None
    return lambda: context.cancelled


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value >= 0 else None


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _format_error(problem: str) -> ResponseFormatError:
    return ResponseFormatError(
        f"{LABEL}: {problem}. The API may have changed; update Meshport or report it.",
        platform=PLATFORM_ID,
    )
