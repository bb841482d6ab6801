"""Rate budgets: shared by threads and processes, persisted, and overruled by the
server's own signals."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakes.faults import Fault, FaultServer
from meshport.core import errors, health, ratelimit

SEARCH = "/v3/search"
WORKER = Path(__file__).with_name("budget_worker.py")


@pytest.fixture
def sketchfab(server):
    server.endpoint(SEARCH)
    return server.url + "/v3"


def test_full_budget_fails_at_once_with_wait(sketchfab, server, make_http, clock):
    http = make_http(sketchfab, rate_per_hour=2)
    http.get_json("search")
    clock.sleep(600)
    http.get_json("search")

    with pytest.raises(errors.RateLimitedError) as raised:
        http.get_json("search")

    assert raised.value.message.startswith("Sketchfab: rate limited, next request in 3000 s.")
    assert "budget of 2 requests per 3600 s" in raised.value.message
    assert raised.value.retry_after == pytest.approx(3000.001)
    assert server.count(SEARCH) == 2


def test_budget_wait_within_retry_budget_is_waited(server, make_http, make_settings, clock):
    server.endpoint("/search/code")
    settings = make_settings({"github": server.url}, {"github": "gh-key"}, retry_budget_seconds=120.0)
    http = make_http(server.url, platform_id="github", settings=settings, label="GitHub")
    for _ in range(ratelimit.GITHUB_CODE_SEARCH_PER_MINUTE):
        http.get_json("search/code")
    clock.sleeps.clear()

    http.get_json("search/code")

    assert clock.sleeps == [pytest.approx(60.001)]
    assert server.count("/search/code") == ratelimit.GITHUB_CODE_SEARCH_PER_MINUTE + 1


def test_budget_survives_a_restart(sketchfab, server, make_http, make_settings):
    settings = make_settings({"sketchfab": sketchfab}, {"sketchfab": "k"}, retry_budget_seconds=60.0)
    first = make_http(sketchfab, rate_per_hour=2, settings=settings)
    first.get_json("search")
    first.get_json("search")
    first.close()
    ratelimit.close_stores()

    second = make_http(sketchfab, rate_per_hour=2, settings=settings)
    with pytest.raises(errors.RateLimitedError):
        second.get_json("search")

    assert server.count(SEARCH) == 2


def test_server_wait_holds_back_every_client(sketchfab, server, make_http, make_settings, clock):
    settings = make_settings({"sketchfab": sketchfab}, {"sketchfab": "k"}, retry_budget_seconds=60.0)
    first = make_http(sketchfab, settings=settings)
    second = make_http(sketchfab, settings=settings)
    server.inject(SEARCH, Fault.rate_limited(retry_after="120"))
    with pytest.raises(errors.RateLimitedError):
        first.get_json("search")

    with pytest.raises(errors.RateLimitedError) as raised:
        second.get_json("search")

    assert raised.value.message == "Sketchfab: rate limited, next request in 120 s."
    assert server.count(SEARCH) == 1


def test_server_wait_is_waited_by_other_client(sketchfab, server, make_http, make_settings, clock):
    settings = make_settings({"sketchfab": sketchfab}, {"sketchfab": "k"}, retry_budget_seconds=60.0)
    first = make_http(sketchfab, settings=settings)
    second = make_http(sketchfab, settings=settings)
    server.inject(SEARCH, Fault.rate_limited(retry_after="120"))
    with pytest.raises(errors.RateLimitedError):
        first.get_json("search")
    clock.sleep(100)
    clock.sleeps.clear()

    second.get_json("search")

    assert clock.sleeps == [pytest.approx(20.0)]
    assert server.count(SEARCH) == 2


def test_no_remaining_requests_holds_back_until_reset(server, make_http, clock):
    reset = str(int(clock.now) + 30)
    server.endpoint(SEARCH, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    http = make_http(server.url + "/v3")
    http.get_json("search")

    http.get_json("search")

    assert clock.sleeps == [pytest.approx(31.0)]


def test_other_hosts_spend_no_budget(sketchfab, server, make_http, clock):
    with FaultServer(clock=clock.time) as storage:
        storage.endpoint("/file.glb")
        http = make_http(sketchfab, rate_per_hour=1)
        for _ in range(3):
            http.request("GET", storage.url + "/file.glb", authenticated=False)

        http.get_json("search")

    assert storage.count("/file.glb") == 3
    assert server.count(SEARCH) == 1


def test_github_search_window_is_separate_from_core(server, make_http):
    server.endpoint("/search/repositories")
    server.endpoint("/repos/o/r")
    http = make_http(server.url, platform_id="github", key="gh-key", label="GitHub")
    for _ in range(ratelimit.GITHUB_SEARCH_PER_MINUTE):
        http.get_json("search/repositories")

    # The wait of 60.001 s is just over the retry budget of 60 s, so this fails at once.
    with pytest.raises(errors.RateLimitedError) as raised:
        http.get_json("search/repositories")

    assert raised.value.retry_after == pytest.approx(60.001)
    assert http.get_json("repos/o/r")["serial"] == 1


def test_github_without_token_allows_60_per_hour(server, make_http):
    server.endpoint("/repos/o/r")
    http = make_http(server.url, platform_id="github", key=None, label="GitHub")
    for _ in range(ratelimit.GITHUB_ANONYMOUS_PER_HOUR):
        http.get_json("repos/o/r")

    with pytest.raises(errors.RateLimitedError):
        http.get_json("repos/o/r")

    assert server.count("/repos/o/r") == ratelimit.GITHUB_ANONYMOUS_PER_HOUR


def test_status_text_shows_remaining_then_wait(sketchfab, make_http, clock):
    http = make_http(sketchfab, rate_per_hour=2)
    http.get_json("search")

    remaining = health.status_text(http.settings, "sketchfab", "Sketchfab", now=clock.now)
    http.get_json("search")
    limited = health.status_text(http.settings, "sketchfab", "Sketchfab", now=clock.now + 42)

    assert remaining == "Sketchfab: 1 of 2 requests left per hour"
    assert limited == "Sketchfab: rate limited, next request in 3558 s"
