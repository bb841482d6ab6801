"""The query parameters of ``GET /v3/search?type=models``, checked from a
``SearchQuery``'s text and filters."""

from __future__ import annotations

from ...core.errors import (
    ConfigurationError,
)
from ...core.models import (
    SearchQuery,
)
from ..common import size_of
from .constants import (
    BOOLEAN_FILTERS,
    CATEGORY_SLUGS,
    FACE_COUNT_FILTERS,
    FILTER_NAMES,
    LABEL,
    LICENSE_LABELS,
    MAX_COUNT,
    PBR_TYPES,
    PLATFORM_ID,
    SORT_VALUES,
)


def build_search_params(query: SearchQuery) -> list[tuple[str, str]]:
    """Return the query string of ``GET /search`` for ``query``, filters validated."""
    params = [("type", "models")]
    if query.text.strip():
        params.append(("q", query.text.strip()))
    params += [
        ("downloadable", "true"),
        ("archives_flavours", "false"),
        ("count", str(max(1, min(MAX_COUNT, query.count)))),
    ]
    return params + _filter_params(query.filters or {})


def _filter_params(filters: dict) -> list[tuple[str, str]]:
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        raise _filter_error(f"unknown search filter '{unknown[0]}'", FILTER_NAMES)

    params = []
    for slug in _slug_list(filters, "categories", CATEGORY_SLUGS):
        params.append(("categories", slug))
    for slug in _slug_list(filters, "licenses", tuple(LICENSE_LABELS)):
        params.append(("licenses", slug))
    for name in BOOLEAN_FILTERS:
        if filters.get(name) is not None:
            params.append((name, _boolean_text(name, filters[name])))
    for name, allowed in (("pbr_type", PBR_TYPES), ("sort_by", SORT_VALUES)):
        value = filters.get(name)
        if value not in (None, ""):
            params.append((name, _one_of(name, str(value), allowed)))
    params += _face_count_params(filters)
    return params


def _slug_list(filters: dict, name: str, allowed: tuple[str, ...]) -> list[str]:
    value = filters.get(name)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        raise _filter_error(f"'{value}' is not a valid value of the filter '{name}'", allowed)
    return [_one_of(name, str(item).strip(), allowed) for item in items]


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _filter_error(f"'{value}' is not a valid value of the filter '{name}'", allowed)
    return value


def _boolean_text(name: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    raise _filter_error(f"'{value}' is not a valid value of the filter '{name}'", ("true", "false"))


def _face_count_params(filters: dict) -> list[tuple[str, str]]:
    counts = {}
    for name in FACE_COUNT_FILTERS:
        value = filters.get(name)
        if value is None:
            continue
        number = size_of(value)
        if number is None:
            raise ConfigurationError(
                f"{LABEL}: '{value}' is not a valid value of the filter '{name}'. Use a whole "
                "number of faces, 0 or more.",
                platform=PLATFORM_ID,
            )
        counts[name] = number
    low, high = counts.get("min_face_count"), counts.get("max_face_count")
    if low is not None and high is not None and low > high:
        raise ConfigurationError(
            f"{LABEL}: min_face_count {low} is greater than max_face_count {high}. Swap or "
            "change them.",
            platform=PLATFORM_ID,
        )
    return [(name, str(number)) for name, number in counts.items()]


def _filter_error(problem: str, allowed: tuple[str, ...]) -> ConfigurationError:
    return ConfigurationError(
        f"{LABEL}: {problem}. Use one of: {', '.join(allowed)}.", platform=PLATFORM_ID
    )
