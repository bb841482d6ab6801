"""Files, repositories and refs of GitHub, and the checks of what a user types for them:
search filters, repository names, paths, refs and page tokens."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import posixpath
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from ...core.errors import ConfigurationError
from ..common import check_filter_names, is_whole
from .constants import (
    FILTER_NAMES,
    GITHUB_HOSTS,
    LABEL,
    LISTED_FORMATS,
    MAX_COUNT,
    OWNER_PATTERN,
    PLATFORM_ID,
    REPOSITORY_PATTERN,
)


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
                and is_whole(listing.count)
                and is_whole(listing.offset)
            )
            if not valid:
                raise ValueError("wrong field types")
            _check_repository_name(listing.owner, listing.repo)
            return dataclasses.replace(
                listing, formats=tuple(listing.formats), count=_page_size(listing.count)
            )
        except (ValueError, TypeError, binascii.Error, UnicodeError, ConfigurationError):
            raise _page_token_error(token) from None


def _checked_filters(filters: dict) -> dict:
    check_filter_names(filters, FILTER_NAMES, LABEL, PLATFORM_ID)
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


def _page_size(count) -> int:
    return max(1, min(MAX_COUNT, count if is_whole(count) else 24))


def _page_token_error(token: str) -> ConfigurationError:
    return ConfigurationError(
        f"{LABEL}: the page token '{token[:40]}' is not one this client returned. Start "
        "the search again.",
        platform=PLATFORM_ID,
    )
