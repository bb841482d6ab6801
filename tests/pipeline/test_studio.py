"""The studio backend: the response cache and rate budgets shared through Redis."""

from __future__ import annotations

import pytest
from fakes.faults import Fault
from meshport.core import errors, health, response_cache, studio

from pipeline.budget_worker import run_in_processes
from pipeline.conftest import OTHER_KEY

SEARCH = "/v3/search"


@pytest.fixture
def sketchfab(server):
    server.endpoint(SEARCH)
    return server.url + "/v3"


@pytest.fixture
def machine(make_settings, make_http, sketchfab, redis_url, tmp_path):
    """Build a client with its own data folder, as on another machine of the studio."""

    def build(name: str, key: str | None = None, **kwargs):
        keys = {"sketchfab": key} if key else {"sketchfab": "mp-test-key-7f3a9c1e5b2d4a6f8e0c"}
        settings = make_settings(
            {"sketchfab": sketchfab},
            keys,
            retry_budget_seconds=60.0,
            redis_url=redis_url,
            data_dir=tmp_path / name,
        )
        return make_http(sketchfab, settings=settings, **kwargs)

    return build


def test_two_processes_share_one_redis_budget(sketchfab, server, redis_url, tmp_path):
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]

    results = run_in_processes(sketchfab, machines, requests=15, rate=20, redis_url=redis_url)

    assert sum(result["sent"] for result in results) == 20
    assert sum(result["limited"] for result in results) == 10
    assert server.count(SEARCH) == 20


def test_cache_is_shared_between_machines(machine, server):
    first = machine("a").get_json("search", cache_ttl=300)

    second = machine("b").get_json("search", cache_ttl=300)

    assert second == first
    assert server.count(SEARCH) == 1


def test_shared_cache_keeps_keys_apart(machine, server):
    machine("a").get_json("search", cache_ttl=300)

    other = machine("b", key=OTHER_KEY).get_json("search", cache_ttl=300)

    assert other["serial"] == 2


def test_server_wait_holds_back_other_machines(machine, server):
    server.inject(SEARCH, Fault.rate_limited(retry_after="120"))
    with pytest.raises(errors.RateLimitedError):
        machine("a").get_json("search")

    with pytest.raises(errors.RateLimitedError) as raised:
        machine("b").get_json("search")

    assert "next request in 2 min" in raised.value.message
    assert server.count(SEARCH) == 1


def test_budget_is_shared_between_machines(machine, server):
    first = machine("a", rate_per_hour=2)
    second = machine("b", rate_per_hour=2)
    first.get_json("search")
    second.get_json("search")

    with pytest.raises(errors.RateLimitedError):
        first.get_json("search")

    assert server.count(SEARCH) == 2


def test_cache_entries_are_json_not_pickle(machine, redis_url):
    import redis

    machine("a").get_json("search", cache_ttl=300)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{studio.CACHE_NAMESPACE}:*"))
    value = client.get(keys[0])
    client.close()

    assert len(keys) == 1
    assert value.lstrip().startswith(b"{")


def test_size_and_clear_use_redis(machine):
    http = machine("a")
    http.get_json("search", cache_ttl=300)

    before = response_cache.size(http.settings)
    response_cache.clear(http.settings)

    assert before.entries == 1
    assert response_cache.size(http.settings).entries == 0


def test_environment_variable_selects_redis(make_settings, redis_url, monkeypatch):
    monkeypatch.setenv(studio.REDIS_URL_VARIABLE, redis_url)

    settings = make_settings()

    assert studio.redis_url(settings) == redis_url
    assert health.snapshot(settings)["backend"] == "redis"


def test_unreachable_redis_names_the_fix(make_settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(redis_url=f"redis://:s3cret-pass@127.0.0.1:{port}/0")

    with pytest.raises(errors.NetworkError) as raised:
        studio.connect(studio.redis_url(settings))

    assert f"127.0.0.1:{port}" in raised.value.message
    assert studio.REDIS_URL_VARIABLE in raised.value.message
    assert "s3cret-pass" not in raised.value.message
