"""Check a ``--page-token`` before Blender starts, so a token that was mistyped or
cut short is bad usage (exit status 2) wherever it was meant to go. A token that
passes and then fails at the server stays a failure (exit status 1).

The checks follow the tokens the platform clients print. Sketchfab's is the
server's next-page URL. GitHub's is ``tree:`` and a base64 JSON object for a
repository listing, or ``code:`` and the next-page URL of a code search. Poly
Haven's, the local library's and Unity's are base64 JSON objects. The clients check
a token's fields in full when the search runs.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import urlsplit

from ..core.config import resolve_base_url
from .arguments import PROGRAM, UsageError

URL_TOKEN_PLATFORMS = frozenset({"sketchfab"})
OBJECT_TOKEN_PLATFORMS = frozenset({"polyhaven", "local", "unity"})
GITHUB_LISTING_PREFIX = "tree:"
GITHUB_SEARCH_PREFIX = "code:"
MAX_QUOTED = 60  # characters of a token quoted in a message


def check_page_token(platform_id: str, token: str) -> None:
    """Raise ``UsageError`` when ``token`` cannot be a next-page token of
    ``platform_id``. Tokens of platforms not listed here pass unchecked."""
    base_url = resolve_base_url(platform_id)
    if platform_id in URL_TOKEN_PLATFORMS:
        valid = _is_url_on(token, base_url)
    elif platform_id in OBJECT_TOKEN_PLATFORMS:
        valid = _is_encoded_object(token)
    elif platform_id == "github":
        valid = _is_github_token(token, base_url)
    else:
        valid = True
    if not valid:
        quoted = token if len(token) <= MAX_QUOTED else token[: MAX_QUOTED - 1] + "…"
        raise UsageError(
            f"--page-token '{quoted}' is not a next-page token of {platform_id}. Copy the "
            f"token from the 'More results' line of a previous '{PROGRAM} search "
            f"{platform_id}' (next_page_token with --json), whole and unchanged."
        )


def _is_github_token(token: str, base_url: str) -> bool:
    if token.startswith(GITHUB_LISTING_PREFIX):
        return _is_encoded_object(token.removeprefix(GITHUB_LISTING_PREFIX))
    if token.startswith(GITHUB_SEARCH_PREFIX):
        return _is_url_on(token.removeprefix(GITHUB_SEARCH_PREFIX), base_url)
    return False


def _is_url_on(text: str, base_url: str) -> bool:
    """Return whether ``text`` is an http or https URL with the scheme, host and port
    of ``base_url``, as the clients require of a next-page link."""
    try:
        target, base = urlsplit(text), urlsplit(base_url)
    except ValueError:  # such as an unclosed "[" of an IPv6 address
        return False
    if target.scheme not in ("http", "https") or not target.netloc:
        return False
    return (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower())


def _is_encoded_object(text: str) -> bool:
    try:
        data = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return False
    return isinstance(data, dict)
