"""Remove secrets from URLs and text before they reach a log, a message or a file."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_PARAM = re.compile(
    r"(key|token|secret|signature|sig|credential|password|auth|code|session|policy"
    r"|expires|x-amz-|x-goog-)",
    re.IGNORECASE,
)
REDACTED = "REDACTED"


def redact_url(url: str) -> str:
    """Return ``url`` with user info and every secret-looking query value replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username or parts.password:
        netloc = f"{REDACTED}@{netloc}"
    query = [
        (name, REDACTED if SECRET_PARAM.search(name) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe=REDACTED), ""))


def redact_text(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each secret in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
