"""A fake GitHub REST API and a fake Git LFS media host on 127.0.0.1, written from
GitHub's documented protocol.

``FakeGitHub`` routes, with ``{"message": ..., "documentation_url": ...}`` error bodies:

- ``GET /search/code?q=&per_page=&page=``: code search, only with a token (401
  otherwise). ``q`` holds words, ``extension:`` and ``repo:`` qualifiers; several
  ``extension:`` qualifiers match any of them. Like GitHub, only text files under
  384 KB on the default branch are indexed, so GLB, FBX and Git LFS files are never
  found. Pages of ``per_page`` (at most 100) with a ``Link`` header.
- ``GET /repos/{owner}/{repo}``: details with ``default_branch`` and ``license``
  (``{key, name, spdx_id, url}`` or null).
- ``GET /repos/{owner}/{repo}/git/trees/{ref}?recursive=1``: the tree of a branch or
  commit, directories included; ``truncated`` is true past a repository's
  ``truncate_tree_at`` entries.
- ``GET /repos/{owner}/{repo}/contents/{path}?ref=``: a file as JSON (base64
  ``content`` up to 1 MB), a directory as a JSON array, or with
  ``Accept: application/vnd.github.raw`` the file's bytes. A file stored with Git LFS
  is its pointer file here, as in Git. Files over 100 MB get 403 ``too_large``.
- ``GET /user``: the token's account.

Every answer carries ``x-ratelimit-limit``, ``-remaining``, ``-used``, ``-reset``
(epoch seconds) and ``-resource``, counted per token (or for all anonymous requests)
and resource: ``core`` 60 per hour without a token and 5000 with one, ``search`` 10
or 30 per minute, ``code_search`` 10 per minute. Past the limit, or after
``exhaust``, the answer is 403 with ``x-ratelimit-remaining: 0``. A wrong token gets
401 "Bad credentials" everywhere, and an ``X-GitHub-Api-Version`` other than
2022-11-28 gets 400.

``FakeMedia`` is the separate host of Git LFS objects:
``GET /media/{owner}/{repo}/{ref}/{path}``. It can answer with the "over its data
quota" refusal or serve corrupted bytes. ``sample_library`` builds repositories from
the real sample files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlencode

from fakes.server import FakeServer, Reply, RequestInfo

DEFAULT_TOKEN = "ghp_fakeGitHubToken0123456789abcdefABCD"
DEFAULT_LOGIN = "fake-artist"
API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"

# Requests per window: (anonymous, with a token) and the window in seconds.
LIMITS = {
    "core": ((60, 5000), 3600),
    "search": ((10, 30), 60),
    "code_search": ((10, 10), 60),
}
MAX_PER_PAGE = 100
INDEXED_SIZE = 384 * 1024  # code search skips larger files
INDEXED_SUFFIXES = {".gltf", ".obj", ".mtl", ".md", ".txt", ".json"}
MAX_RAW_SIZE = 100 * 1024 * 1024
MAX_JSON_CONTENT = 1024 * 1024
LFS_SPEC = "https://git-lfs.github.com/spec/v1"
QUOTA_MESSAGE = (
    "This repository is over its data quota. Account responsible for LFS bandwidth "
    "should purchase more data packs to restore access."
)
ENDPOINTS = ("search", "repository", "tree", "contents", "user")
LICENSE_NAMES = {
    "MIT": "MIT License",
    "CC-BY-4.0": "Creative Commons Attribution 4.0 International",
    "CC0-1.0": "Creative Commons Zero v1.0 Universal",
    "NOASSERTION": "Other",
}


@dataclass
class FakeFile:
    """One file of a repository. With ``lfs``, Git stores a pointer file and the media
    host the bytes. ``reported_size`` replaces the size the API reports, to imitate a
    file too large to create in a test."""

    data: bytes
    lfs: bool = False
    reported_size: int | None = None

    @property
    def blob(self) -> bytes:
        """The bytes Git stores: the file, or its LFS pointer."""
        if not self.lfs:
            return self.data
        oid = hashlib.sha256(self.data).hexdigest()
        return f"version {LFS_SPEC}\noid sha256:{oid}\nsize {len(self.data)}\n".encode()

    @property
    def size(self) -> int:
        return self.reported_size if self.reported_size is not None else len(self.blob)

    @property
    def sha(self) -> str:
        """Git's blob id: SHA-1 over ``blob <size>\\0`` and the stored bytes."""
        blob = self.blob
        return hashlib.sha1(b"blob %d\0" % len(blob) + blob).hexdigest()


@dataclass
class FakeRepository:
    """One repository. ``files`` maps a path to a ``FakeFile`` or plain bytes.
    ``license`` is an SPDX id, "NOASSERTION" or None for no licence. The default
    branch and its commit id serve as refs."""

    owner: str
    name: str
    files: dict[str, FakeFile | bytes] = field(default_factory=dict)
    default_branch: str = "main"
    license: str | None = "MIT"
    truncate_tree_at: int | None = None

    def __post_init__(self):
        self.files = {
            path: value if isinstance(value, FakeFile) else FakeFile(value)
            for path, value in self.files.items()
        }

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def commit(self) -> str:
        return hashlib.sha1(f"commit {self.full_name}@{self.default_branch}".encode()).hexdigest()

    def has_ref(self, ref: str) -> bool:
        return ref in (self.default_branch, self.commit)

    def folders(self) -> list[str]:
        found = set()
        for path in self.files:
            parent = PurePosixPath(path).parent
            while str(parent) != ".":
                found.add(str(parent))
                parent = parent.parent
        return sorted(found)


@dataclass
class Fault:
    """An error response on one endpoint (see ``FakeGitHub.fail``)."""

    endpoint: str
    status: int
    message: str
    headers: dict[str, str]
    remaining: int | None


class FakeGitHub(FakeServer):
    """A fake GitHub REST API; use as a context manager and give its ``url`` to the
    client as the base URL.

    ``tokens`` maps each accepted token to its account login. ``limits`` replaces the
    number of requests per window of a resource, for every credential.
    """

    def __init__(
        self,
        repositories: list[FakeRepository] | tuple[FakeRepository, ...] = (),
        *,
        tokens: dict[str, str] | None = None,
        limits: dict[str, int] | None = None,
    ):
        super().__init__()
        self.repositories: dict[str, FakeRepository] = {}
        for repository in repositories:
            self.add_repository(repository)
        self.tokens = dict(tokens) if tokens is not None else {DEFAULT_TOKEN: DEFAULT_LOGIN}
        self.limits = dict(limits or {})
        self.incomplete_results = False
        self.faults: list[Fault] = []
        self._exhausted: dict[str, float] = {}
        self._windows: dict[tuple[str, str], list[float]] = {}
        self._state_lock = threading.Lock()
        self.route("GET", r"/search/code", self._search_code)
        self.route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)", self._repository)
        self.route(
            "GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/git/trees/(?P<ref>.+)", self._tree
        )
        self.route(
            "GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/contents(?P<path>/.*)?", self._contents
        )
        self.route("GET", r"/user", self._user)

    def start(self) -> FakeGitHub:
        super().start()
        _quiet_connection_resets(self)
        return self

    def add_repository(self, repository: FakeRepository) -> FakeRepository:
        self.repositories[repository.full_name.lower()] = repository
        return repository

    def fail(
        self,
        endpoint: str,
        status: int,
        *,
        message: str = "Injected fault.",
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Respond with ``status`` on ``endpoint`` (one of ``ENDPOINTS``), ``times`` times or
        always, with the rate-limit headers added to ``headers``."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
        with self._state_lock:
            self.faults.append(Fault(endpoint, status, message, dict(headers or {}), times))

    def exhaust(self, resource: str, reset_in: float = 600.0) -> float:
        """Use up ``resource`` for every credential until ``reset_in`` seconds from now;
        return the reset time in epoch seconds."""
        reset = time.time() + reset_in
        with self._state_lock:
            self._exhausted[resource] = reset
        return reset

    def reset(self) -> None:
        """Forget faults, counts and the request log, so one server serves many tests."""
        with self._state_lock:
            self.faults.clear()
            self._exhausted.clear()
            self._windows.clear()
        self.incomplete_results = False
        self.requests_seen.clear()

    def requests_to(self, path_prefix: str) -> list:
        return [seen for seen in list(self.requests_seen) if seen.path.startswith(path_prefix)]

    # Authentication and rate limits

    def _answer(self, info: RequestInfo, resource: str, endpoint: str, build) -> Reply:
        """Run the checks every route shares, then ``build(login)`` for the response."""
        version = _header(info, "X-GitHub-Api-Version")
        token = _bearer_token(info)
        login = self.tokens.get(token) if token else None
        credential = f"token:{token}" if login else "anonymous"
        rate_headers, allowed = self._count(credential, resource, login is not None)
        if token and login is None:
            reply = _error(401, "Bad credentials")
        elif version is not None and version != API_VERSION:
            reply = _error(400, f"Unsupported 'X-GitHub-Api-Version' header: {version}.")
        elif not allowed:
            account = f"user {login}" if login else "your IP address"
            reply = _error(403, f"API rate limit exceeded for {account}.")
        else:
            reply = self._fault_reply(endpoint) or build(login)
        reply.headers.update(rate_headers)
        reply.headers["X-GitHub-Api-Version-Selected"] = API_VERSION
        return reply

    def _count(self, credential: str, resource: str, authenticated: bool):
        (anonymous, with_token), window = LIMITS[resource]
        limit = self.limits.get(resource, with_token if authenticated else anonymous)
        now = time.time()
        with self._state_lock:
            started, used = self._windows.get((credential, resource), (now, 0))
            if now >= started + window:
                started, used = now, 0
            exhausted_until = self._exhausted.get(resource, 0.0)
            allowed = used < limit and now >= exhausted_until
            if allowed:
                used += 1
            self._windows[(credential, resource)] = (started, used)
        if now < exhausted_until:
            reset, remaining = int(exhausted_until), 0
        else:
            reset, remaining = int(started + window), max(0, limit - used)
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": resource,
        }
        return headers, allowed

    def _fault_reply(self, endpoint: str) -> Reply | None:
        with self._state_lock:
            for fault in self.faults:
                if fault.endpoint != endpoint:
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                reply = _error(fault.status, fault.message)
                reply.headers.update(fault.headers)
                return reply
        return None

    # Routes

    def _search_code(self, info: RequestInfo) -> Reply:
        def build(login):
            if login is None:
                return Reply.json(
                    {
                        "message": "Requires authentication",
                        "errors": [
                            {
                                "message": "Must be authenticated to access the code search API",
                                "resource": "Search",
                                "field": "q",
                                "code": "invalid",
                            }
                        ],
                        "documentation_url": DOCS,
                    },
                    401,
                )
            return self._search_results(info)

        return self._answer(info, "code_search", "search", build)

    def _search_results(self, info: RequestInfo) -> Reply:
        query = info.param("q", "") or ""
        words, extensions, repositories, unknown = _parse_query(query)
        if unknown or not words:
            problem = f"unknown qualifier '{unknown[0]}'" if unknown else "no search term"
            return _error(422, "Validation Failed", [{"message": problem, "code": "invalid"}])
        per_page = min(MAX_PER_PAGE, _number(info.param("per_page"), 30))
        page = max(1, _number(info.param("page"), 1))
        matches = [
            (repository, path)
            for repository in sorted(self.repositories.values(), key=lambda item: item.full_name)
            if not repositories or repository.full_name.lower() in repositories
            for path, file in sorted(repository.files.items())
            if _indexed(path, file, extensions) and _matches(words, path, file)
        ]
        start = (page - 1) * per_page
        items = [
            self._search_item(repository, path) for repository, path in matches[start:][:per_page]
        ]
        body = {
            "total_count": len(matches),
            "incomplete_results": self.incomplete_results,
            "items": items,
        }
        headers = {}
        if start + per_page < len(matches):
            next_query = urlencode({"q": query, "per_page": per_page, "page": page + 1})
            headers["Link"] = f'<{self.url}/search/code?{next_query}>; rel="next"'
        return Reply.json(body, headers=headers)

    def _search_item(self, repository: FakeRepository, path: str) -> dict:
        file = repository.files[path]
        commit = repository.commit
        return {
            "name": PurePosixPath(path).name,
            "path": path,
            "sha": file.sha,
            "url": f"{self.url}/repositories/{_repository_id(repository)}/contents/"
            f"{quote(path)}?ref={commit}",
            "git_url": f"{self.url}/repositories/{_repository_id(repository)}/git/blobs/{file.sha}",
            "html_url": f"{self._html_url(repository)}/blob/{commit}/{quote(path)}",
            "repository": self._minimal_repository(repository),
            "score": 1.0,
        }

    def _repository(self, info: RequestInfo) -> Reply:
        def build(login):
            repository = self._find(info)
            if repository is None:
                return _error(404, "Not Found")
            data = self._minimal_repository(repository)
            data.update(
                {
                    "default_branch": repository.default_branch,
                    "license": _license_json(repository.license),
                    "visibility": "public",
                }
            )
            return Reply.json(data)

        return self._answer(info, "core", "repository", build)

    def _tree(self, info: RequestInfo) -> Reply:
        def build(login):
            repository = self._find(info)
            ref = unquote(info.match["ref"])
            if repository is None or not repository.has_ref(ref):
                return _error(404, "Not Found")
            entries = self._tree_entries(repository, info.param("recursive") not in (None, ""))
            truncated = False
            if (
                repository.truncate_tree_at is not None
                and len(entries) > repository.truncate_tree_at
            ):
                entries = entries[: repository.truncate_tree_at]
                truncated = True
            tree_sha = hashlib.sha1(f"tree {repository.full_name}".encode()).hexdigest()
            return Reply.json(
                {
                    "sha": tree_sha,
                    "url": f"{self._api_repository_url(repository)}/git/trees/{tree_sha}",
                    "tree": entries,
                    "truncated": truncated,
                }
            )

        return self._answer(info, "core", "tree", build)

    def _tree_entries(self, repository: FakeRepository, recursive: bool) -> list[dict]:
        api = self._api_repository_url(repository)
        entries = []
        for folder in repository.folders():
            sha = hashlib.sha1(f"tree {folder}".encode()).hexdigest()
            entries.append(
                {
                    "path": folder,
                    "mode": "040000",
                    "type": "tree",
                    "sha": sha,
                    "url": f"{api}/git/trees/{sha}",
                }
            )
        for path, file in repository.files.items():
            entries.append(
                {
                    "path": path,
                    "mode": "100644",
                    "type": "blob",
                    "sha": file.sha,
                    "size": file.size,
                    "url": f"{api}/git/blobs/{file.sha}",
                }
            )
        if not recursive:
            entries = [entry for entry in entries if "/" not in entry["path"]]
        return sorted(entries, key=lambda entry: entry["path"])

    def _contents(self, info: RequestInfo) -> Reply:
        def build(login):
            repository = self._find(info)
            ref = info.param("ref") or (repository.default_branch if repository else "")
            path = unquote((info.match["path"] or "/")[1:]).strip("/")
            if repository is None or not repository.has_ref(ref):
                return _error(404, "Not Found")
            file = repository.files.get(path)
            if file is not None:
                return self._file_answer(info, repository, ref, path, file)
            listing = self._directory_json(repository, ref, path)
            if not listing:
                return _error(404, "Not Found")
            return Reply.json(listing)

        return self._answer(info, "core", "contents", build)

    def _file_answer(self, info, repository, ref, path, file: FakeFile) -> Reply:
        accept = (_header(info, "Accept") or "").lower()
        if "raw" in accept:
            if file.size > MAX_RAW_SIZE:
                return _error(
                    403,
                    "This API returns blobs up to 100 MB in size.",
                    [{"resource": "Blob", "field": "data", "code": "too_large"}],
                )
            return Reply(200, file.blob, {"Content-Type": "application/vnd.github.raw"})
        data = self._entry_json(repository, ref, path, file)
        small = file.size <= MAX_JSON_CONTENT
        data["encoding"] = "base64" if small else "none"
        data["content"] = base64.encodebytes(file.blob).decode("ascii") if small else ""
        return Reply.json(data)

    def _directory_json(self, repository, ref, folder: str) -> list[dict]:
        prefix = f"{folder}/" if folder else ""
        names = {}
        for path, file in repository.files.items():
            if not path.startswith(prefix):
                continue
            first, _, rest = path[len(prefix) :].partition("/")
            if rest:
                names.setdefault(first, None)
            else:
                names[first] = (path, file)
        listing = []
        for name, entry in sorted(names.items()):
            if entry is None:
                listing.append({"type": "dir", "name": name, "path": prefix + name, "size": 0})
            else:
                listing.append(self._entry_json(repository, ref, *entry))
        return listing

    def _entry_json(self, repository, ref, path: str, file: FakeFile) -> dict:
        api = self._api_repository_url(repository)
        return {
            "type": "file",
            "size": file.size,
            "name": PurePosixPath(path).name,
            "path": path,
            "sha": file.sha,
            "url": f"{api}/contents/{quote(path)}?ref={ref}",
            "git_url": f"{api}/git/blobs/{file.sha}",
            "html_url": f"{self._html_url(repository)}/blob/{ref}/{quote(path)}",
            "download_url": f"{self.url}/raw/{repository.full_name}/{ref}/{quote(path)}",
        }

    def _user(self, info: RequestInfo) -> Reply:
        def build(login):
            if login is None:
                return _error(401, "Requires authentication")
            return Reply.json(
                {
                    "login": login,
                    "id": 1,
                    "type": "User",
                    "name": "Fake Artist",
                    "plan": {"name": "free", "space": 976562499, "private_repos": 10000},
                }
            )

        return self._answer(info, "core", "user", build)

    # Helpers

    def _find(self, info: RequestInfo) -> FakeRepository | None:
        return self.repositories.get(f"{info.match['owner']}/{info.match['repo']}".lower())

    def _html_url(self, repository: FakeRepository) -> str:
        return f"{self.url}/{repository.full_name}"

    def _api_repository_url(self, repository: FakeRepository) -> str:
        return f"{self.url}/repos/{repository.full_name}"

    def _minimal_repository(self, repository: FakeRepository) -> dict:
        return {
            "id": _repository_id(repository),
            "name": repository.name,
            "full_name": repository.full_name,
            "private": False,
            "owner": {"login": repository.owner, "id": 2, "type": "User"},
            "html_url": self._html_url(repository),
            "description": None,
            "fork": False,
            "url": self._api_repository_url(repository),
        }


class FakeMedia(FakeServer):
    """The Git LFS media host: ``GET /media/{owner}/{repo}/{ref}/{path}`` returns the
    bytes of an LFS file of the given repositories, at the default branch or its
    commit, without authentication.

    ``over_quota`` makes every response GitHub's "over its data quota" refusal with
    ``quota_status``; ``corrupt`` serves changed bytes of the same length for one file.
    ``throttle_for`` (seconds) makes every response 429 with that Retry-After.
    """

    def __init__(self, repositories: list[FakeRepository] | tuple[FakeRepository, ...] = ()):
        super().__init__()
        self.repositories: dict[str, FakeRepository] = {}
        for repository in repositories:
            self.add_repository(repository)
        self.over_quota = False
        self.quota_status = 403
        self.throttle_for: int | None = None
        self.corrupted: set[tuple[str, str]] = set()
        self.route("GET", r"/media/(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<rest>.+)", self._media)

    def start(self) -> FakeMedia:
        super().start()
        _quiet_connection_resets(self)
        return self

    def add_repository(self, repository: FakeRepository) -> FakeRepository:
        self.repositories[repository.full_name.lower()] = repository
        return repository

    def corrupt(self, full_name: str, path: str) -> None:
        self.corrupted.add((full_name.lower(), path))

    def reset(self) -> None:
        self.over_quota = False
        self.quota_status = 403
        self.throttle_for = None
        self.corrupted.clear()
        self.requests_seen.clear()

    def _media(self, info: RequestInfo) -> Reply:
        if self.throttle_for is not None:
            headers = {"Content-Type": "text/plain", "Retry-After": str(self.throttle_for)}
            return Reply(429, b"Too Many Requests\n", headers)
        if self.over_quota:
            return Reply(
                self.quota_status,
                QUOTA_MESSAGE.encode() + b"\n",
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        full_name = f"{info.match['owner']}/{info.match['repo']}".lower()
        repository = self.repositories.get(full_name)
        rest = unquote(info.match["rest"])
        file, path = None, ""
        if repository is not None:
            for ref in (repository.default_branch, repository.commit):
                if rest.startswith(ref + "/"):
                    path = rest[len(ref) + 1 :]
                    file = repository.files.get(path)
        if file is None or not file.lfs:
            return Reply(404, b"Not Found\n", {"Content-Type": "text/plain; charset=utf-8"})
        data = file.data
        if (full_name, path) in self.corrupted:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        return Reply(200, data, {"Content-Type": "application/octet-stream"})


# Query parsing and matching


def _parse_query(query: str):
    words, extensions, repositories, unknown = [], set(), set(), []
    for term in query.split():
        name, colon, value = term.partition(":")
        if not colon:
            words.append(term.lower())
        elif name == "extension":
            extensions.add(value.lower().lstrip("."))
        elif name == "repo":
            repositories.add(value.lower())
        else:
            unknown.append(name)
    return words, extensions, repositories, unknown


def _indexed(path: str, file: FakeFile, extensions: set[str]) -> bool:
    suffix = PurePosixPath(path).suffix.lower()
    if file.lfs or suffix not in INDEXED_SUFFIXES or file.size >= INDEXED_SIZE:
        return False
    return not extensions or suffix.lstrip(".") in extensions


def _matches(words: list[str], path: str, file: FakeFile) -> bool:
    text = path.lower() + "\n" + file.data.decode("utf-8", "replace").lower()
    return all(word in text for word in words)


# Small helpers


def _license_json(spdx_id: str | None) -> dict | None:
    if spdx_id is None:
        return None
    return {
        "key": spdx_id.lower() if spdx_id != "NOASSERTION" else "other",
        "name": LICENSE_NAMES.get(spdx_id, spdx_id),
        "spdx_id": spdx_id,
        "url": None
        if spdx_id == "NOASSERTION"
        else f"https://api.github.com/licenses/{spdx_id.lower()}",
        "node_id": "MDc6TGljZW5zZW1pdA==",
    }


def _repository_id(repository: FakeRepository) -> int:
    return int(hashlib.sha1(repository.full_name.lower().encode()).hexdigest()[:8], 16)


def _header(info: RequestInfo, name: str) -> str | None:
    for key, value in info.seen.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _bearer_token(info: RequestInfo) -> str | None:
    value = _header(info, "Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("bearer", "token") and token.strip():
        return token.strip()
    return value.strip() or None


def _number(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() else default


def _error(status: int, message: str, errors: list | None = None) -> Reply:
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return Reply.json(body, status)


def _quiet_connection_resets(server: FakeServer) -> None:
    """Keep a client that cancels a transfer mid-body from printing a traceback."""
    default_handler = server._httpd.handle_error

    def handle_error(request, client_address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionResetError, BrokenPipeError)):
            default_handler(request, client_address)

    server._httpd.handle_error = handle_error


# The sample library

SAMPLE_OWNER = "fake-cesium"
SAMPLE_REPOSITORY = "sample-models"
UFBX_OWNER = "fake-ufbx"
UFBX_REPOSITORY = "test-data"


def sample_library(assets: Path) -> list[FakeRepository]:
    """Build two repositories from the real sample files in ``assets``.

    - ``fake-cesium/sample-models`` (CC-BY-4.0, branch ``main``): ``glb/Box.glb``;
      ``glb/CesiumMan.glb`` stored with Git LFS; ``gltf/Fox/`` with Fox.gltf, Fox.bin,
      Texture.png and README.md from the samples; a README.md.
    - ``fake-ufbx/test-data`` (MIT, branch ``master``): the OBJ sample with its MTL
      under ``obj/`` and ``fbx/blender_279_default_7400_binary.fbx``.

    The licences listed here follow the samples' MANIFEST.md.
    """
    fox = assets / "gltf" / "Fox"
    samples = FakeRepository(
        SAMPLE_OWNER,
        SAMPLE_REPOSITORY,
        {
            "README.md": b"# Sample models\n\nglTF test models for the fake GitHub.\n",
            "glb/Box.glb": (assets / "glb" / "Box.glb").read_bytes(),
            "glb/CesiumMan.glb": FakeFile(
                (assets / "glb" / "CesiumMan.glb").read_bytes(), lfs=True
            ),
            "gltf/Fox/Fox.gltf": (fox / "Fox.gltf").read_bytes(),
            "gltf/Fox/Fox.bin": (fox / "Fox.bin").read_bytes(),
            "gltf/Fox/Texture.png": (fox / "Texture.png").read_bytes(),
            "gltf/Fox/README.md": (fox / "README.md").read_bytes(),
        },
        license="CC-BY-4.0",
    )
    obj = assets / "obj"
    ufbx = FakeRepository(
        UFBX_OWNER,
        UFBX_REPOSITORY,
        {
            "obj/blender_279_ball_0_obj.obj": (obj / "blender_279_ball_0_obj.obj").read_bytes(),
            "obj/blender_279_ball_0_obj.mtl": (obj / "blender_279_ball_0_obj.mtl").read_bytes(),
            "fbx/blender_279_default_7400_binary.fbx": (
                assets / "fbx" / "blender_279_default_7400_binary.fbx"
            ).read_bytes(),
        },
        default_branch="master",
        license="MIT",
    )
    return [samples, ufbx]


def gltf_with_uris(buffer_uri: str, image_uri: str | None = None) -> bytes:
    """Return a small valid .gltf that names ``buffer_uri`` and ``image_uri``."""
    document = {
        "asset": {"version": "2.0"},
        "buffers": [{"uri": buffer_uri, "byteLength": 4}],
        "scene": 0,
        "scenes": [{"nodes": []}],
    }
    if image_uri is not None:
        document["images"] = [{"uri": image_uri}]
    return json.dumps(document).encode()
