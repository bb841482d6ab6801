"""Rate budgets: shared by threads and processes, persisted, and overruled by the
server's own signals."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import requests
from fakes.faults import Fault, FaultServer
from meshport.core import errors, health, ratelimit
from meshport.core.ratelimit.signals import (
    MAX_SERVER_WAIT,
    describe_wait,
    rate_limit_wait,
)

from pipeline.budget_worker import run_in_processes

SEARCH = "/v3/search"


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

    assert raised.value.message.startswith("Sketchfab: rate limited, next request in 50 min.")
    assert "budget of 2 requests per 3600 s" in raised.value.message
    assert raised.value.retry_after == pytest.approx(3000.001)
    assert server.count(SEARCH) == 2


def test_budget_wait_within_retry_budget_is_waited(server, make_http, make_settings, clock):
    server.endpoint("/search/code")
    settings = make_settings(
        {"github": server.url}, {"github": "gh-key"}, retry_budget_seconds=120.0
    )
    http = make_http(server.url, platform_id="github", settings=settings, label="GitHub")
    for _ in range(ratelimit.GITHUB_CODE_SEARCH_PER_MINUTE):
        http.get_json("search/code")
    clock.sleeps.clear()

    http.get_json("search/code")

    assert clock.sleeps == [pytest.approx(60.001)]
    assert server.count("/search/code") == ratelimit.GITHUB_CODE_SEARCH_PER_MINUTE + 1


def test_budget_survives_a_restart(sketchfab, server, make_http, make_settings):
    settings = make_settings(
        {"sketchfab": sketchfab}, {"sketchfab": "k"}, retry_budget_seconds=60.0
    )
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
    settings = make_settings(
        {"sketchfab": sketchfab}, {"sketchfab": "k"}, retry_budget_seconds=60.0
    )
    first = make_http(sketchfab, settings=settings)
    second = make_http(sketchfab, settings=settings)
    server.inject(SEARCH, Fault.rate_limited(retry_after="120"))
    with pytest.raises(errors.RateLimitedError):
        first.get_json("search")

    with pytest.raises(errors.RateLimitedError) as raised:
        second.get_json("search")

    assert raised.value.message == "Sketchfab: rate limited, next request in 2 min."
    assert server.count(SEARCH) == 1


def test_server_wait_is_waited_by_other_client(sketchfab, server, make_http, make_settings, clock):
    settings = make_settings(
        {"sketchfab": sketchfab}, {"sketchfab": "k"}, retry_budget_seconds=60.0
    )
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
    assert limited == "Sketchfab: rate limited, next request in 59 min"


def _busiest_window(times_ms: list[int], interval_ms: int) -> int:
    """Return the most requests that fall in any closed window of ``interval_ms``."""
    times_ms = sorted(times_ms)
    busiest = 0
    start = 0
    for end, moment in enumerate(times_ms):
        while times_ms[start] < moment - interval_ms:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


SIMULATED_ENDPOINTS = {
    # path on the fake server: (platform, limit, window in ms)
    "/v3/search": ("sketchfab", 120, 3_600_000),
    "/repos/o/r": ("github", 200, 3_600_000),
    "/search/repositories": ("github", 30, 60_000),
    "/search/code": ("github", 9, 60_000),
}


@pytest.mark.slow
def test_sixteen_threads_stay_within_budgets(make_settings):
    """Over one simulated hour, 16 threads with their own clients request four
    endpoints with hourly and per-minute budgets; the servers see no window with more
    requests than its limit."""
    from meshport.core.http import PlatformHttp
    from meshport.core.retry import RetryPolicy

    from pipeline.clocks import SimulatedClock

    clock = SimulatedClock(participants=16)
    end = clock.time() + 3600
    failures = []
    with FaultServer(clock=clock.time) as sketchfab, FaultServer(clock=clock.time) as github:
        for path in SIMULATED_ENDPOINTS:
            (sketchfab if path.startswith("/v3") else github).endpoint(path)
        settings = make_settings(
            {"sketchfab": sketchfab.url + "/v3", "github": github.url},
            {"sketchfab": "sf-key", "github": "gh-key"},
            retry_budget_seconds=60.0,
        )
        for platform_id, limit, interval in SIMULATED_ENDPOINTS.values():
            if interval == 3_600_000:
                platform = replace(settings.platform(platform_id), rate_per_hour=limit)
                settings = settings.with_platform(platform)
        paths = list(SIMULATED_ENDPOINTS)

        def work(index: int) -> None:
            path = paths[index % len(paths)]
            platform_id = SIMULATED_ENDPOINTS[path][0]
            try:
                http = PlatformHttp(
                    settings.platform(platform_id),
                    settings,
                    label=platform_id,
                    retry_policy=RetryPolicy(total_budget=60.0),
                    sleep=clock.sleep,
                    clock=clock.time,
                )
                request_until(http, path.removeprefix("/v3/").lstrip("/"), index)
                http.close()
            except Exception as error:  # reported below; a thread must not die silently
                failures.append(error)
            finally:
                clock.leave()

        def request_until(http, path: str, index: int) -> None:
            while clock.time() < end:
                try:
                    http.get_json(path)
                    clock.sleep(1.0 + index % 3)
                except errors.RateLimitedError as error:
                    clock.sleep(min(error.retry_after or 60.0, 300.0))

        threads = [threading.Thread(target=work, args=(index,)) for index in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        arrivals = sketchfab.arrivals + github.arrivals

    assert failures == []
    for path, (_platform, limit, interval) in SIMULATED_ENDPOINTS.items():
        times = [moment for seen, moment in arrivals if seen == path]
        assert _busiest_window(times, interval) <= limit, path
        # The budget was reached, so the check above is not vacuous.
        assert len(times) >= limit, path


def test_two_processes_share_one_sqlite_budget(sketchfab, server, tmp_path):
    shared = tmp_path / "shared-state"

    results = run_in_processes(sketchfab, [shared, shared], requests=15, rate=20)

    assert sum(result["sent"] for result in results) == 20
    assert sum(result["limited"] for result in results) == 10
    assert server.count(SEARCH) == 20


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "99999999999999999999"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "99999999999"},
    ],
    ids=["retry_after", "reset"],
)
def test_server_wait_is_capped_at_one_day(headers):
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)

    assert rate_limit_wait(response, now=1_700_000_000.0) == MAX_SERVER_WAIT == 86400.0


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(42, "42 s"), (119, "119 s"), (3558, "59 min"), (86400, "24 h 0 min"), (5000, "83 min")],
)
def test_describe_wait_for_long_waits(seconds, words):
    assert describe_wait(seconds) == f"next request in {words}"
