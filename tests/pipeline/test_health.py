"""Health per platform, as ``bin/meshport status --json`` prints it."""

from __future__ import annotations

import json

import pytest
from fakes.faults import Fault
from meshport.core import errors, health

SEARCH = "/v3/search"


@pytest.fixture
def http(server, make_http):
    server.endpoint(SEARCH)
    return make_http(server.url + "/v3", rate_per_hour=10)


def test_snapshot_reports_success_rate_and_last_error(http, server):
    http.get_json("search")
    server.inject(SEARCH, Fault.http(404))
    with pytest.raises(errors.NotFoundError):
        http.get_json("search")
    http.get_json("search")
    http.get_json("search")

    sketchfab = health.snapshot(http.settings)["platforms"]["sketchfab"]

    assert sketchfab["requests"] == 4
    assert sketchfab["success_rate"] == 0.75
    assert sketchfab["last_error"]["status"] == 404
    assert sketchfab["last_error"]["url"].endswith("/v3/search")


def test_snapshot_reports_latency_percentiles(http):
    for _ in range(5):
        http.get_json("search")

    latency = health.snapshot(http.settings)["platforms"]["sketchfab"]["latency_ms"]

    assert latency["median"] > 0
    assert latency["p95"] >= latency["median"]


def test_snapshot_reports_remaining_budget(http, clock):
    for _ in range(3):
        http.get_json("search")

    budget = health.snapshot(http.settings, now=clock.now)["platforms"]["sketchfab"]["budget"]

    window = budget["core"]["windows"][0]
    assert window["limit"] == 10
    assert window["used"] == 3
    assert window["remaining"] == 7
    assert budget["core"]["wait_s"] == 0


def test_snapshot_reports_server_counts(server, make_http, clock):
    headers = {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "4321",
        "X-RateLimit-Reset": str(int(clock.now) + 600),
    }
    server.endpoint("/repos/o/r", headers=headers)
    http = make_http(server.url, platform_id="github", key="gh-key", label="GitHub")
    http.get_json("repos/o/r")

    snapshot = health.snapshot(http.settings, now=clock.now)
    server_state = snapshot["platforms"]["github"]["budget"]["core"]["server"]
    text = snapshot["platforms"]["github"]["rate_limit"]

    assert server_state["remaining"] == 4321
    assert server_state["limit"] == 5000
    assert text == "github: 4321 of 5000 requests left per hour"


def test_snapshot_counts_cache_hits_apart(http):
    for _ in range(3):
        http.get_json("search", cache_ttl=60)

    sketchfab = health.snapshot(http.settings)["platforms"]["sketchfab"]

    assert sketchfab["requests"] == 1
    assert sketchfab["cache"] == {"hit": 2, "miss": 1, "revalidated": 0}


def test_snapshot_is_json_serializable(http):
    http.get_json("search")

    text = json.dumps(health.snapshot(http.settings))

    assert '"sketchfab"' in text


def test_snapshot_without_requests_has_empty_statistics(make_settings):
    settings = make_settings()

    sketchfab = health.snapshot(settings)["platforms"]["sketchfab"]

    assert sketchfab["requests"] == 0
    assert sketchfab["success_rate"] is None
    assert sketchfab["latency_ms"] == {"median": None, "p95": None}
