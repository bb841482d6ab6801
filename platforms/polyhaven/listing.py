"""The Poly Haven model list: its entries as ``Asset`` records, filtering and paging it
locally, and its freshness from Cache-Control."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from urllib.parse import quote

from ...core.errors import (
    ConfigurationError,
    ResponseFormatError,
)
from ...core.models import Asset, SearchQuery
from ..common import (
    check_filter_names,
    is_whole,
    response_format_error,
    size_of,
    text_of,
)
from .constants import (
    ASSET_ID_PATTERN,
    ASSET_PAGE,
    DEFAULT_MAX_AGE,
    FILTER_NAMES,
    LABEL,
    LICENSE,
    LICENSE_URL,
    MAX_COUNT,
    PLATFORM_ID,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelList:
    """The ``/assets?t=models`` response: id -> entry, and when it stops being fresh."""

    assets: dict[str, dict]
    fetched_at: float
    max_age: float

    def is_fresh(self, now: float) -> bool:
        return self.fetched_at <= now < self.fetched_at + self.max_age


class PageRequest:
    """The text, filters, page size and offset of one search page. ``token`` encodes
    the page at another offset, so the next request needs nothing else."""

    def __init__(self, text: str, filters: dict[str, tuple[str, ...]], count: int, offset: int):
        self.text = text
        self.filters = filters
        self.count = count
        self.offset = offset

    @classmethod
    def from_query(cls, query: SearchQuery) -> PageRequest:
        if query.page_token:
            return cls._decode(query.page_token)
        count = max(1, min(MAX_COUNT, query.count))
        return cls(query.text.strip(), normalise_filters(query.filters or {}), count, 0)

    def token(self, offset: int) -> str:
        payload = {
            "text": self.text,
            "filters": self.filters,
            "count": self.count,
            "offset": offset,
        }
        data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(data).decode("ascii")

    @classmethod
    def _decode(cls, token: str) -> PageRequest:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
            filters = normalise_filters(data["filters"])
            count, offset = data["count"], data["offset"]
            if not (isinstance(data["text"], str) and is_whole(count) and is_whole(offset)):
                raise ValueError("wrong field types")
            return cls(data["text"], filters, max(1, min(MAX_COUNT, count)), offset)
        except (ValueError, binascii.Error, UnicodeError, KeyError, TypeError, ConfigurationError):
            raise ConfigurationError(
                f"{LABEL}: the page token '{token[:40]}' is not one this client returned. "
                "Start the search again.",
                platform=PLATFORM_ID,
            ) from None


def normalise_filters(filters: dict) -> dict[str, tuple[str, ...]]:
    """Return the filters as lower-case value tuples; raises ``ConfigurationError`` for
    an unknown filter name or a value that is not text."""
    check_filter_names(filters, FILTER_NAMES, LABEL, PLATFORM_ID)
    normalised = {}
    for name in FILTER_NAMES:
        value = filters.get(name)
        items = value.split(",") if isinstance(value, str) else value
        if items in (None, ""):
            continue
        if not isinstance(items, (list, tuple, set, frozenset)) or not all(
            isinstance(item, str) for item in items
        ):
            raise ConfigurationError(
                f"{LABEL}: '{value}' is not a valid value of the filter '{name}'. Use a "
                "comma-separated list of names.",
                platform=PLATFORM_ID,
            )
        cleaned = tuple(sorted({item.strip().lower() for item in items if item.strip()}))
        if cleaned:
            normalised[name] = cleaned
    return normalised


def find_models(assets: dict[str, dict], text: str, filters: dict[str, tuple[str, ...]]):
    """Return ``(id, entry)`` pairs that match, most downloaded first, then by id."""
    words = text.lower().split()
    categories = set(filters.get("categories", ()))
    authors = set(filters.get("authors", ()))
    matches = []
    for asset_id, entry in assets.items():
        entry_categories = _strings(entry.get("categories"))
        searched = " ".join(
            [asset_id, text_of(entry.get("name")), *_strings(entry.get("tags")), *entry_categories]
        ).lower()
        if not all(word in searched for word in words):
            continue
        if not categories <= {name.lower() for name in entry_categories}:
            continue
        if authors and not authors & {name.lower() for name in _author_names(entry)}:
            continue
        matches.append((asset_id, entry))
    matches.sort(key=lambda pair: (-(size_of(pair[1].get("download_count")) or 0), pair[0]))
    return matches


def valid_entries(data: dict) -> dict[str, dict]:
    """Return the entries of a model list that can be shown, logging how many were not."""
    valid = {
        asset_id: entry
        for asset_id, entry in data.items()
        if isinstance(entry, dict) and ASSET_ID_PATTERN.fullmatch(asset_id) and ".." not in asset_id
    }
    if len(valid) < len(data):
        log.warning(
            "platform=%s skipped %d model list entries that are not objects or have an unusable id",
            PLATFORM_ID,
            len(data) - len(valid),
        )
    return valid


def asset_from_entry(asset_id: str, entry) -> Asset:
    """Map an entry of ``/assets`` or an ``/info`` response to an ``Asset``. Every field
    but the id may be missing. Sizes are unknown until ``/files`` is read."""
    if not isinstance(entry, dict):
        raise _format_error(f"the entry of '{asset_id}' is not a JSON object")
    thumbnail = text_of(entry.get("thumbnail_url"))
    return Asset(
        platform=PLATFORM_ID,
        asset_id=asset_id,
        name=text_of(entry.get("name")) or asset_id,
        author=", ".join(_author_names(entry)),
        license=LICENSE,
        license_url=LICENSE_URL,
        url=ASSET_PAGE + quote(asset_id),
        # NOTE: "polycount" is read when present; the documented list fields omit it.
        face_count=size_of(entry.get("polycount")),
        thumbnail_url=thumbnail if thumbnail.startswith(("https://", "http://")) else None,
        version=text_of(entry.get("files_hash")) or None,
    )


def max_age_of(cache_control: str) -> float:
    """Return the seconds a response stays fresh by its Cache-Control header: 0 for
    ``no-store`` or ``no-cache``, ``max-age`` when given, else 12 hours."""
    directives = [part.strip().lower() for part in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        value = value.strip().strip('"')
        if name.strip() == "max-age" and value.isdigit():
            return float(value)
    return float(DEFAULT_MAX_AGE)


def _author_names(entry: dict) -> list[str]:
    """Return the names in ``authors``: the keys of the documented object (name ->
    role), the items of a list, or a single string."""
    authors = entry.get("authors")
    if isinstance(authors, str):
        authors = [authors]
    if not isinstance(authors, (dict, list)):
        return []
    return [name.strip() for name in authors if isinstance(name, str) and name.strip()]


def _strings(value) -> list[str]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _format_error(problem: str) -> ResponseFormatError:
    return response_format_error(LABEL, PLATFORM_ID, problem)
