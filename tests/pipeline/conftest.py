"""Fixtures for the request pipeline: a fault server, fake clocks, a Redis server and
a factory for ``PlatformHttp`` clients whose waits take no real time."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from fakes.faults import FaultServer
from support import require

from pipeline.clocks import FakeClock

API_KEY = "mp-test-key-7f3a9c1e5b2d4a6f8e0c"
OTHER_KEY = "mp-test-key-other-0b1c2d3e4f5a6b7c"


@pytest.fixture(autouse=True)
def _fresh_pipeline_state():
    """Close the process-wide rate stores, audit logs and Redis clients after each
    test, so no test sees another's state."""
    yield
    from meshport.core import audit, ratelimit, response_cache, studio

    ratelimit.close_stores()
    audit.close_logs()
    studio.close_connections()
    response_cache.COUNTERS.reset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock):
    with FaultServer(clock=clock.time) as fault_server:
        yield fault_server


@pytest.fixture
def make_http(make_settings, clock):
    """Build a ``PlatformHttp`` for a base URL as the given platform, with the fake
    clock's ``time`` and ``sleep``, a retry budget of 60 s unless ``settings`` say
    otherwise, and no jitter (each backoff is its ceiling)."""
    from meshport.core.http import PlatformHttp
    from meshport.core.retry import RetryPolicy

    clients = []

    def build(
        base_url: str,
        platform_id: str = "sketchfab",
        key: str | None = API_KEY,
        rate_per_hour: int | None = None,
        settings=None,
        label: str = "Sketchfab",
        **policy,
    ):
        keys = {platform_id: key} if key else {}
        # The production default retry budget, so waits up to 60 s are taken.
        settings = settings or make_settings(
            {platform_id: base_url}, keys, retry_budget_seconds=60.0
        )
        platform = settings.platform(platform_id)
        if rate_per_hour is not None:
            from dataclasses import replace

            platform = replace(platform, rate_per_hour=rate_per_hour)
            settings = settings.with_platform(platform)
        retry = RetryPolicy(
            total_budget=settings.retry_budget_seconds, random=lambda: 1.0, **policy
        )
        http = PlatformHttp(
            platform, settings, label=label, retry_policy=retry, sleep=clock.sleep, clock=clock.time
        )
        clients.append(http)
        return http

    yield build
    for http in clients:
        http.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """Start Debian's redis-server on a free loopback port, without persistence, in a
    temporary folder; return its URL."""
    executable = shutil.which("redis-server")
    require(executable is not None, "redis-server is not installed (apt-get install redis-server)")
    import redis

    port = _free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    process = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail(f"redis-server on port {port} did not start")
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
