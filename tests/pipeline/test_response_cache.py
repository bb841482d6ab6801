"""The response cache: time to live per request, revalidation, separation by key, and
the responses that are never stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.faults import Fault, FaultServer
from fakes.server import Reply
from meshport.core import errors, response_cache

from pipeline.conftest import OTHER_KEY

SEARCH = "/v3/search"


@pytest.fixture
def sketchfab(server):
    server.endpoint(SEARCH)
    return server.url + "/v3"


def test_repeat_within_ttl_sends_no_request(sketchfab, server, make_http):
    http = make_http(sketchfab)
    first = http.get_json("search", params={"q": "fox"}, cache_ttl=300)

    second = http.get_json("search", params={"q": "fox"}, cache_ttl=300)

    assert second == first
    assert server.count(SEARCH) == 1


def test_other_parameters_are_a_miss(sketchfab, server, make_http):
    http = make_http(sketchfab)
    http.get_json("search", params={"q": "fox"}, cache_ttl=300)

    http.get_json("search", params={"q": "box"}, cache_ttl=300)

    assert server.count(SEARCH) == 2


def test_request_without_ttl_is_not_cached(sketchfab, server, make_http):
    http = make_http(sketchfab)
    http.get_json("search")

    http.get_json("search")

    assert server.count(SEARCH) == 2


def test_uncached_request_sends_no_cache_control_headers(sketchfab, server, make_http):
    http = make_http(sketchfab)

    http.get_json("search")

    headers = {name.lower() for name in server.requests_seen[-1].headers}
    assert "x-actual-no-cache" not in headers
    assert "cache-control" not in headers


def test_response_for_key_a_not_served_for_b(sketchfab, server, make_http, make_settings):
    settings_b = make_settings({"sketchfab": sketchfab}, {"sketchfab": OTHER_KEY})
    http_a = make_http(sketchfab)
    http_b = make_http(sketchfab, settings=settings_b)
    response_a = http_a.get_json("search", params={"q": "fox"}, cache_ttl=300)

    response_b = http_b.get_json("search", params={"q": "fox"}, cache_ttl=300)

    assert response_a["serial"] == 1
    assert response_b["serial"] == 2
    assert server.count(SEARCH) == 2


def test_anonymous_response_not_served_with_key(sketchfab, server, make_http):
    http = make_http(sketchfab)
    http.get_json("search", authenticated=False, cache_ttl=300)

    keyed = http.get_json("search", cache_ttl=300)

    assert keyed["serial"] == 2


def test_stale_entry_is_revalidated_with_etag(server, make_http):
    server.endpoint(SEARCH, headers={"ETag": '"v1"'})
    http = make_http(server.url + "/v3")
    first = http.get_json("search", cache_ttl=300)
    http.session.cache.reset_expiration(timedelta(seconds=-1))
    not_modified = Reply(304, b"", {"ETag": '"v1"'})
    server.route(
        "GET",
        SEARCH,
        lambda info: not_modified if info.seen.headers.get("If-None-Match") == '"v1"' else None,
    )

    second = http.get_json("search", cache_ttl=300)

    assert second == first
    assert server.requests_seen[-1].headers.get("If-None-Match") == '"v1"'
    assert response_cache.COUNTERS.get("sketchfab") == {"hit": 0, "miss": 1, "revalidated": 1}


def test_stale_entry_with_last_modified_is_revalidated(server, make_http):
    stamp = "Wed, 01 Jan 2025 00:00:00 GMT"
    server.endpoint(SEARCH, headers={"Last-Modified": stamp})
    http = make_http(server.url + "/v3")
    http.get_json("search", cache_ttl=300)
    http.session.cache.reset_expiration(timedelta(seconds=-1))

    http.get_json("search", cache_ttl=300)

    assert server.requests_seen[-1].headers.get("If-Modified-Since") == stamp


def test_hits_and_misses_are_counted_per_platform(sketchfab, make_http):
    http = make_http(sketchfab)
    for _ in range(3):
        http.get_json("search", cache_ttl=300)

    counts = response_cache.COUNTERS.get("sketchfab")

    assert counts["miss"] == 1
    assert counts["hit"] == 2


def test_download_responses_never_cached(server, make_http):
    server.endpoint("/v3/models/abc/download")
    http = make_http(server.url + "/v3")
    for _ in range(2):
        http.get_json("models/abc/download", cache_ttl=300)

    assert server.count("/v3/models/abc/download") == 2


def test_presigned_urls_are_never_cached(make_http, sketchfab, clock):
    with FaultServer(clock=clock.time) as storage:
        storage.endpoint("/file.json")
        http = make_http(sketchfab)
        url = storage.url + "/file.json?expires=300&signature=abc"
        for _ in range(2):
            http.get_json(url, authenticated=False, cache_ttl=300)

        assert storage.count("/file.json") == 2


def test_error_responses_never_cached(sketchfab, server, make_http):
    http = make_http(sketchfab)
    server.inject(SEARCH, Fault.http(404))
    with pytest.raises(errors.NotFoundError):
        http.get_json("search", cache_ttl=300)

    assert http.get_json("search", cache_ttl=300)["serial"] == 1
    assert server.count(SEARCH) == 2


def test_streamed_transfers_are_never_cached(sketchfab, server, make_http):
    http = make_http(sketchfab)
    for _ in range(2):
        response = http.request("GET", "search", stream=True, cache_ttl=300)
        response.close()

    assert server.count(SEARCH) == 2


def test_no_store_responses_not_cached(server, make_http):
    server.endpoint(SEARCH, headers={"Cache-Control": "no-store"})
    http = make_http(server.url + "/v3")
    for _ in range(2):
        http.get_json("search", cache_ttl=300)

    assert server.count(SEARCH) == 2


def test_size_counts_entries_and_clear_empties(sketchfab, make_http):
    http = make_http(sketchfab)
    http.get_json("search", params={"q": "fox"}, cache_ttl=300)
    http.get_json("search", params={"q": "box"}, cache_ttl=300)

    before = response_cache.size(http.settings)
    response_cache.clear(http.settings)
    after = response_cache.size(http.settings)

    assert before.entries == 2
    assert before.bytes > 0
    assert after.entries == 0


def test_cleared_cache_sends_the_request_again(sketchfab, server, make_http):
    http = make_http(sketchfab)
    http.get_json("search", cache_ttl=300)
    response_cache.clear(http.settings)

    http.get_json("search", cache_ttl=300)

    assert server.count(SEARCH) == 2


def test_cache_hit_spends_no_budget(sketchfab, server, make_http):
    http = make_http(sketchfab, rate_per_hour=1)
    http.get_json("search", cache_ttl=300)

    for _ in range(5):
        http.get_json("search", cache_ttl=300)

    assert server.count(SEARCH) == 1


def test_redirect_to_presigned_url_is_not_cached(sketchfab, server, make_http, clock):
    with FaultServer(clock=clock.time) as storage:
        storage.endpoint("/file.json")
        signed = storage.url + "/file.json?expires=300&signature=abc"
        server.route("GET", "/v3/latest", lambda info: Reply(302, b"", {"Location": signed}))
        http = make_http(sketchfab)
        for _ in range(2):
            http.get_json("latest", cache_ttl=300)

        assert storage.count("/file.json") == 2
