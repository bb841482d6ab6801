"""The search half of ``GitHubClient``: code search and repository listings."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

import requests

from ...core.errors import (
    AuthenticationError,
    ConfigurationError,
    JobCancelledError,
    MeshportError,
    RateLimitedError,
    ResponseFormatError,
)
from ...core.jobs import JobContext
from ...core.models import SearchPage, SearchQuery
from ...core.redact import redact_url
from ..common import cancel_check
from .constants import (
    LABEL,
    LISTED_FORMATS,
    PLATFORM_ID,
    SEARCH_FORMATS,
    SEARCH_TTL,
    TREE_TTL,
)
from .refs import (
    ListingRequest,
    Repository,
    _checked_filters,
    _page_size,
    _page_token_error,
)
from .responses import (
    _api_messages,
    _code_search_file,
    _format_error,
    _json_of,
    asset_from_code_result,
    asset_from_tree_entry,
    model_entries,
)

log = logging.getLogger(__name__)


class SearchMixin:
    """Search methods of ``GitHubClient``; they use its ``http``, ``_repository`` and
    ``_require_token``."""

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
        cancel = cancel_check(context)
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
