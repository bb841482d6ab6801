"""Small helpers that several platform clients share: reading JSON fields, checking
configured URLs and wording the errors of an unexpected response."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from ..core.archive_names import WINDOWS_INVALID_CHARACTERS
from ..core.errors import ConfigurationError, ResponseFormatError
from ..core.jobs import JobContext
from ..core.redact import redact_url


def text_of(value) -> str:
    """Return ``value`` stripped when it is a string, else an empty string."""
    return value.strip() if isinstance(value, str) else ""


def size_of(value) -> int | None:
    """Return ``value`` when it is a non-negative int (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value >= 0 else None


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


def cancel_check(context: JobContext | None) -> Callable[[], bool] | None:
    if context is None:
        return None
    return lambda: context.cancelled


def check_http_url(url: str, what: str, example: str, label: str, platform_id: str) -> None:
    """Raise ``ConfigurationError`` unless ``url`` is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{label}: the {what} '{redact_url(url)}' is not an http(s) URL. Set it like "
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
