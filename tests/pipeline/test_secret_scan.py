"""No API key in any file the pipeline writes, nor in Redis or the log output."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from urllib.parse import quote

import pytest
from fakes.faults import Fault, FaultServer
from fakes.server import Reply
from meshport.core import errors

from pipeline.conftest import API_KEY

EXPECTED_FILES = ("logs/audit.jsonl", "http_cache.sqlite", "ratelimit.sqlite")


def _forms(secret: str) -> list[bytes]:
    """Return the encodings in which a key could be written."""
    raw = secret.encode()
    return [raw, quote(secret).encode(), base64.b64encode(raw), raw.hex().encode()]


def _holds_key(content: bytes) -> bool:
    return any(form in content for form in _forms(API_KEY))


def _run_session(http, server, storage) -> None:
    """Send the kinds of request a search-and-download session sends, failures included."""
    for _ in range(2):
        http.get_json("search", params={"q": "fox"}, cache_ttl=300)
    http.get_json("models/abc", cache_ttl=300)
    http.get_json("models/abc/download")
    response = http.request(
        "GET",
        storage.url + "/file.bin?expires=300&signature=sig",
        authenticated=False,
        stream=True,
    )
    response.close()
    server.inject("/v3/search", Fault.rate_limited(retry_after="5"), Fault.reset())
    http.get_json("search", params={"q": "box"}, cache_ttl=300)
    server.inject("/v3/models/gone", Fault.http(401))
    with pytest.raises(errors.AuthenticationError):
        http.get_json("models/gone", cache_ttl=300)


@pytest.fixture
def session_servers(server, clock):
    limits = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "999"}
    for path in ("/v3/search", "/v3/models/abc", "/v3/models/gone"):
        server.endpoint(path, headers={"ETag": '"e1"', **limits})
    with FaultServer(clock=clock.time) as storage:
        storage.route("GET", "/file.bin", lambda info: Reply(200, b"\x00" * 4096))
        server.endpoint(
            "/v3/models/abc/download",
            body={
                "glb": {"url": storage.url + "/file.bin?expires=300&signature=sig", "size": 4096}
            },
        )
        yield server, storage


def test_no_file_written_holds_the_key(session_servers, make_http, caplog):
    server, storage = session_servers
    caplog.set_level(logging.DEBUG)
    http = make_http(server.url + "/v3")
    _run_session(http, server, storage)
    http.close()
    data_dir = Path(http.settings.data_dir)

    written = {
        path.relative_to(data_dir).as_posix(): path
        for path in data_dir.rglob("*")
        if path.is_file()
    }

    for name in EXPECTED_FILES:
        assert name in written, f"{name} was not written, so the scan would miss it"
    leaks = [name for name, path in written.items() if _holds_key(path.read_bytes())]
    assert leaks == []
    assert API_KEY not in caplog.text


def test_redis_holds_no_key(session_servers, make_http, make_settings, redis_url):
    import redis

    server, storage = session_servers
    settings = make_settings(
        {"sketchfab": server.url + "/v3"},
        {"sketchfab": API_KEY},
        retry_budget_seconds=60.0,
        redis_url=redis_url,
    )
    http = make_http(server.url + "/v3", settings=settings)
    _run_session(http, server, storage)
    client = redis.Redis.from_url(redis_url)

    stored = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        if kind == b"string":
            stored.append(key + client.get(key))
        elif kind == b"hash":
            stored.append(key + b"".join(b"".join(item) for item in client.hgetall(key).items()))
        elif kind == b"zset":
            stored.append(key + b"".join(client.zrange(key, 0, -1)))
    client.close()

    assert any(b"http_cache" in entry for entry in stored)
    assert any(b":rate:" in entry for entry in stored)
    leaks = [entry.split(b"{")[0] for entry in stored if _holds_key(entry)]
    assert leaks == []
