"""Send requests through ``PlatformHttp`` from a separate process and print, as JSON,
how many were sent and how many the budget held back.

The tests that share one budget between processes (SQLite file or Redis) run two of
these at once. Usage: python budget_worker.py URL DATA_DIR --requests N --rate R
[--redis-url URL] [--start-at EPOCH] [--cache-ttl S]. ``run_in_processes`` starts
several at once and collects their counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "mp-test-key-7f3a9c1e5b2d4a6f8e0c"


def load_package() -> None:
    spec = importlib.util.spec_from_file_location(
        "meshport", REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["meshport"] = module
    spec.loader.exec_module(module)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", help="base URL of the fake platform")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True, help="requests per hour")
    parser.add_argument("--redis-url")
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch second to begin")
    parser.add_argument("--cache-ttl", type=float)
    parser.add_argument("--path", default="search")
    return parser.parse_args()


def run_in_processes(
    url: str, data_dirs: list[Path], requests: int, rate: int, **options
) -> list[dict]:
    """Run one worker per data folder, all starting at the same moment, and return
    each worker's counts. ``options`` become flags (``redis_url`` to ``--redis-url``)."""
    start_at = time.time() + 1.5
    flags = ["--requests", str(requests), "--rate", str(rate), "--start-at", str(start_at)]
    for name, value in options.items():
        flags += [f"--{name.replace('_', '-')}", str(value)]
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, url, str(folder), *flags],
            stdout=subprocess.PIPE,
            text=True,
        )
        for folder in data_dirs
    ]
    results = []
    for process in processes:
        output, _ = process.communicate(timeout=120)
        if process.returncode != 0:
            raise RuntimeError(f"budget worker exited with status {process.returncode}")
        results.append(json.loads(output))
    return results


def main() -> None:
    arguments = parse_arguments()
    load_package()
    from meshport.core.config import PlatformSettings, Settings
    from meshport.core.errors import RateLimitedError
    from meshport.core.http import PlatformHttp
    from meshport.core.secrets import Secret

    platform = PlatformSettings("sketchfab", arguments.url, Secret(API_KEY), arguments.rate)
    settings = Settings(
        data_dir=arguments.data_dir,
        download_dir=arguments.data_dir / "downloads",
        online_access=True,
        platforms={"sketchfab": platform},
        retry_budget_seconds=0.0,
        redis_url=arguments.redis_url,
    )
    http = PlatformHttp(platform, settings, label="Sketchfab")
    time.sleep(max(0.0, arguments.start_at - time.time()))
    counts = {"sent": 0, "limited": 0, "cache_hits": 0}
    for _ in range(arguments.requests):
        try:
            response = http.request("GET", arguments.path, cache_ttl=arguments.cache_ttl)
        except RateLimitedError:
            counts["limited"] += 1
            continue
        if getattr(response, "from_cache", False):
            counts["cache_hits"] += 1
        else:
            counts["sent"] += 1
    http.close()
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
