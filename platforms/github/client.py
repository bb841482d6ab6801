"""``GitHubClient``: its sessions and token, one asset's record, asset ids and the
check of a token. Searching and downloading are in ``search`` and ``download``."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from ...core.config import DEFAULT_BASE_URLS, key_place
from ...core.errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitedError,
    UnsupportedFileError,
)
from ...core.formats import MODEL_SUFFIXES
from ...core.http import PlatformHttp
from ...core.jobs import JobContext
from ...core.models import AccountInfo, Asset
from ...core.redact import redact_url
from ...core.retry import RetryPolicy
from ...core.tokens import BearerTokenAuth, TokenManager
from ..base import PlatformClient
from ..common import cancel_check, check_http_url, size_of, text_of
from .constants import (
    API_VERSION,
    ASSET_ID_PATTERN,
    CONTENTS_TTL,
    DEFAULT_MEDIA_URL,
    GITHUB_HOSTS,
    GITHUB_TOKEN_RATE_PER_HOUR,
    JSON_MEDIA_TYPE,
    LABEL,
    LISTED_FORMATS,
    MEDIA_URL_VARIABLE,
    NOTICE,
    PLATFORM_ID,
    RAW_MEDIA_TYPE,
    REPOSITORY_TTL,
    TOKEN_PAGE,
)
from .download import DownloadMixin
from .refs import (
    FileRef,
    Repository,
    _check_ref,
    _check_repository_name,
    _check_repository_path,
    _file_from_url,
)
from .responses import (
    _api_messages,
    _format_error,
    _missing_file_message,
    asset_from_file,
    repository_from_json,
)
from .search import SearchMixin

log = logging.getLogger(__name__)


class GitHubClient(SearchMixin, DownloadMixin, PlatformClient):
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
        options = {
            "label": LABEL,
            "auth_scheme": "Bearer",
            "retry_policy": retry_policy,
            "has_token": lambda: self._has_token,
        }
        # API responses are JSON. File transfers need the raw media type on a session
        # of their own, because core.download sends the session's headers.
        self.http = GitHubHttp(
            platform,
            settings,
            extra_headers={**version, "Accept": JSON_MEDIA_TYPE},
            sleep=sleep,
            **options,
        )
        self.file_http = GitHubHttp(
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
        cancel = cancel_check(context)
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
        return asset_from_file(
            repository,
            file,
            url=text_of(data.get("html_url")) or repository.blob_url(file.ref, file.path),
            size=size_of(data.get("size")),
            sha=text_of(data.get("sha")),
        )

    def validate_key(self, context: JobContext | None = None) -> AccountInfo:
        """GET ``/user`` with the token and return the account it belongs to.

        Raises ``AuthenticationError`` for a missing or rejected token,
        ``NetworkError`` when GitHub cannot be reached and ``RateLimitedError`` when
        throttled.
        """
        self._require_token("no token is set, so there is nothing to check")
        data = self.http.get_json(
            "user", error_messages=_api_messages(), should_cancel=cancel_check(context)
        )
        if not isinstance(data, dict):
            raise _format_error("the /user response is not a JSON object")
        login = text_of(data.get("login"))
        if not login:
            raise _format_error("the /user response has no 'login'")
        plan = data.get("plan")
        plan_name = text_of(plan.get("name")) if isinstance(plan, dict) else ""
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

    def _require_token(self, reason: str) -> None:
        # Offline, the request raises OfflineError, whose message is the more useful one.
        if self._has_token or not self.settings.online_access:
            return
        raise AuthenticationError(
            f"{LABEL}: {reason}. Create a personal access token at {TOKEN_PAGE} and put "
            f"it in {key_place(PLATFORM_ID)}.",
            platform=PLATFORM_ID,
        )


class GitHubHttp(PlatformHttp):
    """``PlatformHttp`` whose rate-limit errors, when no token is set, end with how to
    get GitHub's higher limit of 5000 requests per hour.

    ``has_token`` is called when the error happens, because a token from the OAuth
    device flow is attached after the sessions are built.
    """

    def __init__(self, *args, has_token: Callable[[], bool], **kwargs):
        super().__init__(*args, **kwargs)
        self._has_token = has_token

    def request(self, method: str, path_or_url: str, **kwargs):
        try:
            return super().request(method, path_or_url, **kwargs)
        except RateLimitedError as error:
            if self._has_token() or not self._token_would_help(error, path_or_url):
                raise
            raise RateLimitedError(
                f"{error.message} Add a GitHub token in {key_place(PLATFORM_ID)} for "
                f"{GITHUB_TOKEN_RATE_PER_HOUR} requests per hour.",
                retry_after=error.retry_after,
                platform=error.platform,
                status=error.status,
            ) from error

    def _token_would_help(self, error: RateLimitedError, path_or_url: str) -> bool:
        """Return whether a token raises the limit that was hit: Meshport's own budget
        (an error without a status) or a response of the API host, but not a response
        of another host, such as the Git LFS media host."""
        api_host = urlsplit(self.base_url).netloc
        return error.status is None or urlsplit(self.url(path_or_url)).netloc == api_host


def resolve_media_url() -> str:
    """Return the Git LFS media host: ``MESHPORT_GITHUB_MEDIA_URL`` if set, else
    GitHub's own."""
    value = os.environ.get(MEDIA_URL_VARIABLE, "").strip().rstrip("/")
    if not value:
        return DEFAULT_MEDIA_URL
    _check_url(value, MEDIA_URL_VARIABLE, DEFAULT_MEDIA_URL)
    log.info("platform=%s media URL %s from %s", PLATFORM_ID, redact_url(value), MEDIA_URL_VARIABLE)
    return value


def _check_url(url: str, what: str, example: str) -> None:
    check_http_url(url, what, example, LABEL, PLATFORM_ID)
