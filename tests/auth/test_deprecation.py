"""Deprecation and Sunset response headers: parsed, logged once per platform, kept."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
import requests
from fakes.server import FakeServer, Reply
from meshport.core import deprecation

SUNSET = "Sat, 01 Jan 2028 00:00:00 GMT"
DEPRECATED_AT = "@1798761600"  # 2027-01-01T00:00:00Z
LINK = '<https://docs.example.test/api-changes>; rel="deprecation"'


@pytest.fixture
def server():
    fake = FakeServer()
    fake.route(
        "GET",
        r"/old",
        lambda info: Reply.json(
            {}, headers={"Deprecation": DEPRECATED_AT, "Sunset": SUNSET, "Link": LINK}
        ),
    )
    fake.route("GET", r"/draft", lambda info: Reply.json({}, headers={"Deprecation": "true"}))
    fake.route("GET", r"/sunset", lambda info: Reply.json({}, headers={"Sunset": SUNSET}))
    fake.route("GET", r"/current", lambda info: Reply.json({}))
    with fake:
        yield fake


def _get(server, path: str) -> requests.Response:
    return requests.get(server.url + path, timeout=5)


def test_notice_reads_dates_and_link(server):
    notice = deprecation.notice_from_response("github", _get(server, "/old"))

    assert notice.deprecated is True
    assert notice.deprecated_on == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert notice.sunset_on == datetime(2028, 1, 1, tzinfo=timezone.utc)
    assert notice.link == "https://docs.example.test/api-changes"


def test_notice_description_for_status_panel(server):
    notice = deprecation.notice_from_response("github", _get(server, "/old"))

    assert notice.describe("GitHub") == (
        "GitHub marks the API Meshport uses as deprecated since 2027-01-01 and will shut "
        "it down on 2028-01-01; a Meshport update may be needed. "
        "Details: https://docs.example.test/api-changes"
    )


def test_notice_accepts_draft_boolean(server):
    notice = deprecation.notice_from_response("github", _get(server, "/draft"))

    assert notice.deprecated is True
    assert notice.deprecated_on is None


def test_notice_from_sunset_alone(server):
    notice = deprecation.notice_from_response("sketchfab", _get(server, "/sunset"))

    assert notice.deprecated is False
    assert "will shut it down on 2028-01-01" in notice.describe("Sketchfab")


def test_response_without_headers_has_no_notice(server):
    assert deprecation.notice_from_response("github", _get(server, "/current")) is None


def test_notice_logged_once_per_platform(server, caplog):
    notices = deprecation.DeprecationLog()
    caplog.set_level(logging.WARNING, logger=deprecation.__name__)

    for _ in range(3):
        notices.record("github", _get(server, "/old"))
    notices.record("sketchfab", _get(server, "/sunset"))

    warnings = [record for record in caplog.records if "deprecation notice" in record.message]
    assert len(warnings) == 2
    assert "platform=github" in warnings[0].message
    assert "platform=sketchfab" in warnings[1].message


def test_notices_kept_for_status_panel(server):
    notices = deprecation.DeprecationLog()
    notices.record("sketchfab", _get(server, "/sunset"))
    notices.record("github", _get(server, "/old"))

    kept = notices.notices()

    assert [notice.platform_id for notice in kept] == ["github", "sketchfab"]
    assert notices.notice_for("github").sunset_on.year == 2028


def test_response_hook_records_notices(server):
    session = requests.Session()
    session.hooks["response"].append(deprecation.response_hook("github"))

    response = session.get(server.url + "/old", timeout=5)
    session.close()

    assert response.status_code == 200
    assert deprecation.NOTICES.notice_for("github") is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("@0", datetime(1970, 1, 1, tzinfo=timezone.utc)),
        ("Wed, 11 Nov 2026 23:59:59 GMT", datetime(2026, 11, 11, 23, 59, 59, tzinfo=timezone.utc)),
        ("true", None),
        ("@soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_header_date(value, expected):
    assert deprecation.parse_header_date(value) == expected
