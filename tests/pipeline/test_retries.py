"""Retries and waits of ``PlatformHttp`` against a server that fails on request."""

from __future__ import annotations

import logging

import pytest
from fakes.faults import Fault
from meshport.core import errors

SEARCH = "/v3/search"


@pytest.fixture
def http(server, make_http):
    server.endpoint(SEARCH)
    return make_http(server.url + "/v3")


def test_retry_after_is_waited_exactly(http, server, clock):
    server.inject(SEARCH, Fault.rate_limited(retry_after="42"))

    data = http.get_json("search")

    assert data["serial"] == 1
    assert clock.sleeps == [42.0]
    assert server.count(SEARCH) == 2


def test_retry_after_as_http_date_is_waited(http, server, clock):
    from email.utils import formatdate

    server.inject(SEARCH, Fault.rate_limited(retry_after=formatdate(clock.now + 30, usegmt=True)))

    http.get_json("search")

    assert clock.sleeps == [30.0]


def test_retry_after_beyond_budget_fails_at_once(http, server, clock):
    server.inject(SEARCH, Fault.rate_limited(retry_after="120"))

    with pytest.raises(errors.RateLimitedError) as raised:
        http.get_json("search")

    assert raised.value.message == "Sketchfab: rate limited, next request in 2 min."
    assert raised.value.retry_after == 120.0
    assert clock.sleeps == []
    assert server.count(SEARCH) == 1


def test_503_burst_is_retried_with_backoff(http, server, clock):
    server.burst(SEARCH, 503, 3)

    data = http.get_json("search")

    assert data["serial"] == 1
    # No jitter in these tests: each wait is the ceiling 0.5 * 2 ** (attempt - 1).
    assert clock.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried(http, server, status):
    server.burst(SEARCH, status, 1)

    assert http.get_json("search")["serial"] == 1


def test_spent_attempts_raise_unavailable(http, server, clock):
    server.burst(SEARCH, 503, 10)

    with pytest.raises(errors.PlatformUnavailableError) as raised:
        http.get_json("search")

    assert "Sketchfab is unavailable (HTTP 503)" in raised.value.message
    assert server.count(SEARCH) == 5
    assert len(clock.sleeps) == 4


def test_spent_time_budget_stops_retrying(server, make_http, make_settings, clock):
    server.endpoint(SEARCH)
    settings = make_settings({"sketchfab": server.url + "/v3"}, retry_budget_seconds=2.0)
    http = make_http(server.url + "/v3", settings=settings, max_attempts=10)
    server.burst(SEARCH, 503, 10)

    with pytest.raises(errors.PlatformUnavailableError):
        http.get_json("search")

    assert sum(clock.sleeps) <= 2.0
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(http, server, clock, status):
    server.inject(SEARCH, Fault.http(status))

    with pytest.raises(errors.MeshportError):
        http.get_json("search")

    assert server.count(SEARCH) == 1
    assert clock.sleeps == []


def test_rate_limit_403_is_retried_after_reset(http, server, clock):
    reset = str(int(clock.now) + 9)
    server.inject(SEARCH, Fault.http(403, X_RateLimit_Remaining="0", X_RateLimit_Reset=reset))

    assert http.get_json("search")["serial"] == 1
    assert clock.sleeps == [10.0]


def test_post_is_not_retried_after_503(http, server):
    server.burst(SEARCH, 503, 1)

    with pytest.raises(errors.PlatformUnavailableError):
        http.request("POST", "search")

    assert server.count(SEARCH) == 1


def test_connection_reset_is_retried(http, server, clock):
    server.inject(SEARCH, Fault.reset(), Fault.reset())

    assert http.get_json("search")["serial"] == 1
    assert clock.sleeps == [0.5, 1.0]


def test_resets_beyond_attempts_raise_network_error(http, server):
    server.inject(SEARCH, *[Fault.reset()] * 5)

    with pytest.raises(errors.NetworkError) as raised:
        http.get_json("search")

    assert "cannot reach 127.0.0.1" in raised.value.message
    assert server.count(SEARCH) == 5


def test_stall_times_out_and_is_retried(server, make_http, make_settings):
    server.endpoint(SEARCH)
    settings = make_settings({"sketchfab": server.url + "/v3"}, read_timeout=0.2)
    http = make_http(server.url + "/v3", settings=settings)
    server.inject(SEARCH, Fault.stall(10.0))

    assert http.get_json("search")["serial"] == 1
    assert server.count(SEARCH) == 2


def test_stalls_beyond_attempts_raise_timeout_message(server, make_http, make_settings):
    server.endpoint(SEARCH)
    settings = make_settings({"sketchfab": server.url + "/v3"}, read_timeout=0.2)
    http = make_http(server.url + "/v3", settings=settings, max_attempts=2)
    server.inject(SEARCH, Fault.stall(10.0), Fault.stall(10.0))

    with pytest.raises(errors.NetworkError) as raised:
        http.get_json("search")

    assert "did not answer in time" in raised.value.message


def test_retry_log_line_fields(http, server, caplog):
    server.burst(SEARCH, 503, 1)
    caplog.set_level(logging.INFO, logger="meshport.core.http")

    http.get_json("search", params={"q": "fox", "token": "hidden-value"})

    retries = [record.getMessage() for record in caplog.records if " retry " in record.getMessage()]
    assert len(retries) == 1
    assert "platform=sketchfab" in retries[0]
    assert "url=http://127.0.0.1" in retries[0]
    assert "/v3/search?q=fox&token=REDACTED" in retries[0]
    assert "attempt=1" in retries[0]
    assert "wait_s=0.50" in retries[0]
    assert "hidden-value" not in caplog.text


def test_cancel_during_wait_raises_cancelled(http, server, clock):
    server.inject(SEARCH, Fault.rate_limited(retry_after="30"))
    checks = []

    def should_cancel():
        checks.append(True)
        return len(checks) > 1

    with pytest.raises(errors.JobCancelledError):
        http.get_json("search", should_cancel=should_cancel)

    assert server.count(SEARCH) == 1


def test_offline_raises_before_any_request(server, make_http, make_settings):
    server.endpoint(SEARCH)
    settings = make_settings({"sketchfab": server.url + "/v3"}, online_access=False)
    http = make_http(server.url + "/v3", settings=settings)

    with pytest.raises(errors.OfflineError):
        http.get_json("search")

    assert server.count(SEARCH) == 0


def test_injected_sleep_alone_waits_retry_after_once(server, make_settings):
    from meshport.core.http import PlatformHttp

    server.endpoint(SEARCH)
    settings = make_settings({"sketchfab": server.url + "/v3"}, retry_budget_seconds=60.0)
    sleeps = []
    http = PlatformHttp(
        settings.platform("sketchfab"), settings, label="Sketchfab", sleep=sleeps.append
    )
    server.inject(SEARCH, Fault.rate_limited(retry_after="3"))

    data = http.get_json("search")
    http.close()

    assert data["serial"] == 1
    assert sleeps == [3.0]
