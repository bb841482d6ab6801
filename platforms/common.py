"""Small helpers that several platform clients share: reading JSON fields and the files
a .gltf names, checking configured URLs and wording the errors of an unexpected
response."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..core.archive_names import WINDOWS_INVALID_CHARACTERS
from ..core.errors import ConfigurationError, DownloadError, ResponseFormatError
from ..core.jobs import JobContext
from ..core.redact import redact_url

DIGITS_PATTERN = re.compile(r"[0-9]+")


def text_of(value) -> str:
    """Return ``value`` stripped when it is a string, else an empty string."""
    return value.strip() if isinstance(value, str) else ""


def size_of(value) -> int | None:
    """Return ``value`` as a non-negative int, else None.

    Accepted: an int (not a bool), a float with a whole value such as ``1500.0``, as
    some JSON responses write counts, and a string of ASCII digits.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and DIGITS_PATTERN.fullmatch(value.strip()):
        return int(value.strip())
    return None


def is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# A URI scheme such as "https:" or "data:"; it also matches a drive such as "C:".
SCHEME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def relative_path_problem(reference: str) -> tuple[str, str | None]:
    """Return ``reference`` as a normal relative path ("a/b.png") and, when it could
    point outside its folder or cannot be stored as a file name, why not."""
    text = reference.replace("\\", "/")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    problem = None
    if SCHEME_PATTERN.match(text):
        problem = "is an absolute URI or drive path, not a file beside the model"
    elif text.startswith("/"):
        problem = "is an absolute path"
    elif ".." in parts:
        problem = "climbs out of the model's folder with '..'"
    elif not parts:
        problem = "names no file"
    elif any(ord(char) < 32 or char in WINDOWS_INVALID_CHARACTERS for char in text):
        problem = "contains a character that file names cannot hold"
    return "/".join(parts), problem


def read_gltf_document(path: Path, label: str) -> dict:
    """Return the JSON object of a downloaded .gltf file; raises ``DownloadError``
    when the file is not a JSON object."""
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise DownloadError(f"{label}: the .gltf file is not valid JSON ({error}).") from error
    if not isinstance(document, dict):
        raise DownloadError(f"{label}: the .gltf file is not a JSON object.")
    return document


def gltf_file_uris(document: dict) -> list[tuple[str, str]]:
    """Return ``(uri, decoded)`` for each buffer and image file a glTF document names.

    ``data:`` URIs are embedded and left out. glTF URIs are RFC 3986 references, so
    ``decoded`` has the percent escapes resolved ("%20" becomes a space).
    """
    uris = []
    for section in ("buffers", "images"):
        entries = document.get(section)
        for entry in entries if isinstance(entries, list) else []:
            uri = entry.get("uri") if isinstance(entry, dict) else None
            if isinstance(uri, str) and not uri.startswith("data:"):
                uris.append((uri, unquote(uri)))
    return uris


def cancel_check(context: JobContext | None) -> Callable[[], bool] | None:
    if context is None:
        return None
    return lambda: context.cancelled


def check_http_url(
    url: str, setting: str, example: str, label: str, platform_id: str
) -> None:
    """Raise ``ConfigurationError`` unless ``url`` is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{label}: the {setting} '{redact_url(url)}' is not an http(s) URL. Set it like "
            f"{example}.",
            platform=platform_id,
        )


def check_filter_names(filters: dict, known: tuple[str, ...], label: str, platform_id: str) -> None:
    """Raise ``ConfigurationError`` naming the first filter that is not in ``known``."""
    unknown = sorted(set(filters) - set(known))
    if unknown:
        raise ConfigurationError(
            f"{label}: unknown search filter '{unknown[0]}'. Use one of: {', '.join(known)}.",
            platform=platform_id,
        )


def response_format_error(label: str, platform_id: str, problem: str) -> ResponseFormatError:
    return ResponseFormatError(
        f"{label}: {problem}. The API may have changed; update Meshport or report it.",
        platform=platform_id,
    )


def install_folder(staging: Path, final: Path, replaced: Path, model: Path) -> Path:
    """Move the staging folder to ``final`` and return ``model``'s new path. An earlier
    ``final`` is renamed to ``replaced`` first and deleted once the new one is in place."""
    relative = model.relative_to(staging)
    if final.exists():
        final.rename(replaced)
    staging.rename(final)
    shutil.rmtree(replaced, ignore_errors=True)
    return final / relative


def offset_page_request(
    query, *, max_count: int, searched_by: str, label: str, platform_id: str
) -> tuple[str, int, int]:
    """Return the text, page size and offset that a query or its page token requests,
    for a platform that pages through a local list and takes no filters.
    ``searched_by`` completes "... is searched by" in the unknown-filter message."""
    if query.filters:
        raise ConfigurationError(
            f"{label}: unknown search filter '{min(query.filters)}'; {searched_by}. Leave "
            "the filter out.",
            platform=platform_id,
        )
    if not query.page_token:
        return query.text.strip(), max(1, min(max_count, query.count)), 0
    try:
        data = json.loads(base64.urlsafe_b64decode(query.page_token.encode("ascii")))
        text, count, offset = data["text"], data["count"], data["offset"]
        valid = isinstance(text, str) and all(is_whole(number) for number in (count, offset))
        if valid:
            return text, max(1, min(max_count, count)), offset
    except (ValueError, binascii.Error, UnicodeError, KeyError, TypeError):
        pass
    raise ConfigurationError(
        f"{label}: the page token '{query.page_token[:40]}' is not one this client returned. "
        "Start the search again.",
        platform=platform_id,
    )


def offset_page_token(text: str, count: int, offset: int) -> str:
    """Return the page token that ``offset_page_request`` reads back."""
    data = json.dumps({"text": text, "count": count, "offset": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode("ascii")
