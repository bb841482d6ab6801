"""Measure the request pipeline on loopback: cache, added latency, a replayed session.

Run from the repository root:

    .venv/bin/python benchmarks/pipeline.py [--rounds 300] [--json]

Three measurements against a JSON server on 127.0.0.1, all in one run:

1. A cached search against an uncached one (median and 95th percentile).
2. ``PlatformHttp.get_json`` without cache against a bare ``requests.get`` and a bare
   ``requests.Session.get``, to show what the budget check, audit line and cache
   bookkeeping add.
3. A browsing session replayed from a cold cache: 100 API requests (searches, next
   pages, details, going back, and an account check with a short time to live).
   Every repeat within its time to live must be served without a network request,
   and no response served from the cache may be older than its time to live.

Numbers depend on the machine; docs/benchmarks.md records them as ratios with the
machine and command.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from fakes.server import FakeServer, Reply  # noqa: E402

# Time to live per endpoint in the replayed session, in seconds.
SESSION_TTLS = {"search": 300, "models": 600, "me": 1}
SESSION_STEPS = 100
THINK_TIME = 0.02
# A repeat this close to its entry's expiry is not counted either way, because the
# cache dates an entry when it stores it, a moment before the benchmark's own clock.
EXPIRY_MARGIN = 0.05


def load_package() -> None:
    spec = importlib.util.spec_from_file_location(
        "meshport", REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["meshport"] = module
    spec.loader.exec_module(module)


def start_server() -> FakeServer:
    """Serve ``/v3/<anything>`` as JSON with an ETag, and respond 304 to a matching
    ``If-None-Match``."""
    server = FakeServer()

    def answer(info):
        info.handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        query = {name: values[0] for name, values in info.seen.query.items()}
        body = {"path": info.seen.path, "query": query}
        etag = f'"{info.seen.path}"'
        if info.seen.headers.get("If-None-Match") == etag:
            return Reply(304, b"", {"ETag": etag})
        return Reply.json(body, headers={"ETag": etag})

    server.route("GET", r"/v3/.*", answer)
    return server.start()


def build_client(base_url: str, data_dir: Path):
    from meshport.core.config import PlatformSettings, Settings
    from meshport.core.http import PlatformHttp
    from meshport.core.secrets import Secret

    platform_settings = PlatformSettings("sketchfab", base_url, Secret("benchmark-key"), 10**6)
    settings = Settings(
        data_dir=data_dir,
        download_dir=data_dir / "downloads",
        online_access=True,
        platforms={"sketchfab": platform_settings},
    )
    return PlatformHttp(platform_settings, settings, label="Sketchfab")


def summarize(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return {"median_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000}


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure_cache(http, rounds: int) -> dict:
    """Time first fetches of distinct searches, then a repeat of each."""
    uncached = [
        timed(lambda n=n: http.get_json("search", params={"q": f"u{n}"}, cache_ttl=300))
        for n in range(rounds)
    ]
    cached = [
        timed(lambda n=n: http.get_json("search", params={"q": f"u{n}"}, cache_ttl=300))
        for n in range(rounds)
    ]
    result = {"uncached": summarize(uncached), "cached": summarize(cached)}
    result["uncached_over_cached"] = result["uncached"]["median_ms"] / result["cached"]["median_ms"]
    return result


def measure_overhead(http, url: str, rounds: int) -> dict:
    """Time the pipeline without cache against bare requests calls, interleaved."""
    session = requests.Session()
    for _ in range(20):
        session.get(url).json()
        http.get_json("search")
    bare_get, bare_session, pipeline = [], [], []
    for _ in range(rounds):
        bare_get.append(timed(lambda: requests.get(url, timeout=10).json()))
        bare_session.append(timed(lambda: session.get(url, timeout=10).json()))
        pipeline.append(timed(lambda: http.get_json("search")))
    session.close()
    result = {
        "requests_get": summarize(bare_get),
        "session_get": summarize(bare_session),
        "pipeline": summarize(pipeline),
    }
    pipeline_median = result["pipeline"]["median_ms"]
    result["pipeline_over_requests_get"] = pipeline_median / result["requests_get"]["median_ms"]
    result["pipeline_over_session_get"] = pipeline_median / result["session_get"]["median_ms"]
    result["added_ms_over_session_get"] = pipeline_median - result["session_get"]["median_ms"]
    return result


def browsing_session(seed: int = 7) -> list[tuple[str, dict]]:
    """Return 100 requests a browsing artist sends: new searches and next pages,
    details, going back to earlier pages, and account checks."""
    rng = random.Random(seed)
    steps: list[tuple[str, dict]] = []
    queries = ["fox", "chair", "tree", "car", "robot", "lamp", "house", "sword"]
    while len(steps) < SESSION_STEPS:
        if steps and rng.random() < 0.64:
            steps.append(rng.choice(steps))  # back, forward, or the same page again
        elif rng.random() < 0.15:
            steps.append(("me", {}))
        elif rng.random() < 0.5:
            steps.append(("search", {"q": rng.choice(queries), "cursor": str(rng.randint(0, 3))}))
        else:
            steps.append((f"models/{rng.randint(1, 40):032x}", {}))
    return steps


def replay(http, server: FakeServer) -> dict:
    """Replay ``browsing_session`` from a cold cache and check every response.

    A response's age is measured from the moment its last fetch (or revalidation)
    returned to the caller. The server's timestamp in the body is no measure, because
    a revalidated entry keeps its first body.
    """
    received: dict[str, float] = {}
    counts = {
        "requests": 0,
        "repeats": 0,
        "repeats_within_ttl": 0,
        "served_from_cache": 0,
        "network": 0,
        "repeat_within_ttl_sent": 0,
        "stale_served": 0,
    }
    for path, params in browsing_session():
        ttl = SESSION_TTLS[path.split("/")[0]]
        key = json.dumps([path, sorted(params.items())])
        before = len(server.requests_seen)
        started = time.time()
        http.get_json(path, params=params, cache_ttl=ttl)
        sent = len(server.requests_seen) > before
        counts["requests"] += 1
        counts["repeats"] += int(key in received)
        if key in received and started - received[key] < ttl - EXPIRY_MARGIN:
            counts["repeats_within_ttl"] += 1
            counts["repeat_within_ttl_sent"] += int(sent)
        if sent:
            counts["network"] += 1
            received[key] = time.time()
        else:
            counts["served_from_cache"] += 1
            counts["stale_served"] += int(time.time() - received[key] > ttl)
        time.sleep(THINK_TIME)
    return counts


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cpus = len(os.sched_getaffinity(0))
    return f"{cpu}, {cpus} CPUs, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="samples per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    arguments = parser.parse_args()
    load_package()

    server = start_server()
    try:
        with tempfile.TemporaryDirectory() as folder:
            http = build_client(server.url + "/v3", Path(folder) / "state")
            results = {
                "machine": machine_description(),
                "cache": measure_cache(http, arguments.rounds),
                "overhead": measure_overhead(http, server.url + "/v3/search", arguments.rounds),
            }
            http.close()
            http = build_client(server.url + "/v3", Path(folder) / "cold")
            results["session"] = replay(http, server)
            http.close()
    finally:
        server.stop()
    print(json.dumps(results, indent=2) if arguments.json else format_results(results))


def format_results(results: dict) -> str:
    cache, overhead, session = results["cache"], results["overhead"], results["session"]
    lines = [f"machine: {results['machine']}"]
    for name in ("uncached", "cached"):
        figures = cache[name]
        lines.append(
            f"{name} search: median {figures['median_ms']:.3f} ms, p95 {figures['p95_ms']:.3f} ms"
        )
    lines.append(f"uncached / cached: {cache['uncached_over_cached']:.1f}x")
    for name in ("requests_get", "session_get", "pipeline"):
        lines.append(f"{name}: median {overhead[name]['median_ms']:.3f} ms")
    lines.append(
        f"pipeline / requests.get: {overhead['pipeline_over_requests_get']:.2f}x, "
        f"pipeline / Session.get: {overhead['pipeline_over_session_get']:.2f}x "
        f"(+{overhead['added_ms_over_session_get']:.3f} ms)"
    )
    lines.append("session: " + ", ".join(f"{name} {value}" for name, value in session.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
