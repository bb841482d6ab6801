"""The audit log: one JSON line per request, secrets removed, rotated by size."""

from __future__ import annotations

import json

import pytest
from fakes.faults import Fault
from meshport.core import audit

SEARCH = "/v3/search"
FIELDS = {
    "time",
    "platform",
    "method",
    "url",
    "status",
    "duration_ms",
    "bytes",
    "cache_hit",
    "cache",
    "attempt",
    "error",
}


@pytest.fixture
def http(server, make_http):
    server.endpoint(SEARCH)
    return make_http(server.url + "/v3")


def _records(http) -> list[dict]:
    path = audit.audit_path(http.settings)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_request_writes_one_line(http):
    http.get_json("search", params={"q": "fox"})

    records = _records(http)

    assert len(records) == 1
    assert set(records[0]) == FIELDS
    assert records[0]["platform"] == "sketchfab"
    assert records[0]["method"] == "GET"
    assert records[0]["status"] == 200
    assert records[0]["bytes"] == len(json.dumps({"path": SEARCH, "serial": 1}))
    assert records[0]["cache"] == "off"
    assert records[0]["attempt"] == 1


def test_retries_write_a_line_per_attempt(http, server):
    server.burst(SEARCH, 503, 2)

    http.get_json("search")

    records = _records(http)
    assert [record["status"] for record in records] == [503, 503, 200]
    assert [record["attempt"] for record in records] == [1, 2, 3]


def test_connection_failure_is_logged_with_error_class(http, server):
    server.inject(SEARCH, Fault.reset())

    http.get_json("search")

    first = _records(http)[0]
    assert first["status"] is None
    assert first["error"] == "ConnectionError"


def test_cache_hit_is_marked(http):
    http.get_json("search", cache_ttl=60)
    http.get_json("search", cache_ttl=60)

    records = _records(http)

    assert [record["cache"] for record in records] == ["miss", "hit"]
    assert [record["cache_hit"] for record in records] == [False, True]


def test_secret_query_values_are_removed(http):
    http.get_json("search", params={"q": "fox", "access_token": "secret-value-123"})

    line = audit.audit_path(http.settings).read_text()

    assert "secret-value-123" not in line
    assert "access_token=REDACTED" in line


def test_log_rotates_by_size(tmp_path):
    log = audit.AuditLog(tmp_path / "audit.jsonl", max_bytes=2000, backup_count=2)
    record = audit.AuditRecord.build(
        platform="sketchfab",
        method="GET",
        url="https://api.example/v3/search?q=fox",
        status=200,
        duration_s=0.01,
        size=10,
        cache="off",
        attempt=1,
    )
    for _ in range(100):
        log.write(record)
    log.close()

    names = sorted(path.name for path in tmp_path.iterdir())

    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert all((tmp_path / name).stat().st_size <= 2000 for name in names)


def test_read_recent_spans_rotated_files(tmp_path):
    log = audit.AuditLog(tmp_path / "audit.jsonl", max_bytes=2000, backup_count=3)
    for attempt in range(1, 21):
        log.write(
            audit.AuditRecord.build(
                platform="sketchfab",
                method="GET",
                url="https://api.example/v3/search",
                status=200,
                duration_s=0.01,
                size=10,
                cache="off",
                attempt=attempt,
            )
        )
    log.close()

    recent = audit.read_recent(tmp_path / "audit.jsonl", 15)

    assert [record["attempt"] for record in recent] == list(range(6, 21))
