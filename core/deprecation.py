"""Deprecation and sunset notices that platforms send in response headers.

``Deprecation`` (RFC 9745: a date written ``@<epoch seconds>``; earlier drafts used
``true`` or an HTTP date) marks an endpoint as deprecated; ``Sunset`` (RFC 8594: an
HTTP date) gives the date when it stops working. Either may come with a ``Link`` of relation
``deprecation`` or ``sunset`` to the platform's explanation.

The first notice of each platform is logged once as a warning; the latest is kept
for the Status panel.
"""

from __future__ import annotations

import email.utils
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import requests

from .redact import redact_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeprecationNotice:
    """A platform's notice that an endpoint is deprecated or will shut down.

    ``deprecated_on`` and ``sunset_on`` are None when the header is absent or names
    no date (``Deprecation: true``); ``deprecated`` is True whenever a
    ``Deprecation`` header was present.
    """

    platform_id: str
    url: str
    deprecated: bool
    deprecated_on: datetime | None = None
    sunset_on: datetime | None = None
    link: str | None = None

    def describe(self, label: str | None = None) -> str:
        """Return one sentence for the Status panel."""
        name = label or self.platform_id
        parts = []
        if self.deprecated:
            since = f" since {self.deprecated_on:%Y-%m-%d}" if self.deprecated_on else ""
            parts.append(f"marks the API Meshport uses as deprecated{since}")
        if self.sunset_on:
            parts.append(f"will shut it down on {self.sunset_on:%Y-%m-%d}")
        elif not self.deprecated:
            parts.append("announced that the API Meshport uses will shut down")
        sentence = f"{name} {' and '.join(parts)}; a Meshport update may be needed."
        if self.link:
            sentence += f" Details: {self.link}"
        return sentence


def notice_from_response(platform_id: str, response: requests.Response) -> DeprecationNotice | None:
    """Return the notice in ``response``'s headers, or None when it carries none."""
    deprecation = response.headers.get("Deprecation")
    sunset = response.headers.get("Sunset")
    if deprecation is None and sunset is None:
        return None
    return DeprecationNotice(
        platform_id=platform_id,
        url=redact_url(response.url or ""),
        deprecated=deprecation is not None and deprecation.strip().lower() != "false",
        deprecated_on=parse_header_date(deprecation),
        sunset_on=parse_header_date(sunset),
        link=_notice_link(response),
    )


def parse_header_date(value: str | None) -> datetime | None:
    """Parse ``@<epoch seconds>`` or an HTTP date into an aware UTC datetime."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("@"):
        try:
            return datetime.fromtimestamp(int(value[1:]), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _notice_link(response: requests.Response) -> str | None:
    for relation in ("deprecation", "sunset"):
        link = response.links.get(relation)
        if link and link.get("url"):
            return link["url"]
    return None


class DeprecationLog:
    """The latest notice per platform; thread-safe."""

    def __init__(self):
        self._notices: dict[str, DeprecationNotice] = {}
        self._lock = threading.Lock()

    def record(self, platform_id: str, response: requests.Response) -> DeprecationNotice | None:
        """Keep the notice in ``response``, if any, and log it when it is the
        platform's first."""
        notice = notice_from_response(platform_id, response)
        if notice is None:
            return None
        with self._lock:
            first = platform_id not in self._notices
            self._notices[platform_id] = notice
        if first:
            log.warning(
                "platform=%s deprecation notice url=%s deprecation=%s sunset=%s link=%s",
                platform_id,
                notice.url,
                response.headers.get("Deprecation"),
                response.headers.get("Sunset"),
                notice.link,
            )
        return notice

    def notice_for(self, platform_id: str) -> DeprecationNotice | None:
        with self._lock:
            return self._notices.get(platform_id)

    def notices(self) -> list[DeprecationNotice]:
        with self._lock:
            return [self._notices[key] for key in sorted(self._notices)]

    def clear(self) -> None:
        with self._lock:
            self._notices.clear()


NOTICES = DeprecationLog()


def response_hook(
    platform_id: str, notices: DeprecationLog = NOTICES
) -> Callable[..., requests.Response]:
    """Return a requests response hook that records notices for ``platform_id``:
    ``session.hooks["response"].append(response_hook("github"))``."""

    def record(response: requests.Response, *args, **kwargs) -> requests.Response:
        notices.record(platform_id, response)
        return response

    return record
