"""Download benchmarks: throughput against curl, peak memory, parallel against sequential.

Run ``.venv/bin/python benchmarks/download.py`` (``make bench``); it is not part of CI.
It needs nginx and curl on PATH and about three times ``--large-mib`` of free disk
in the temporary folder, and prints one JSON document.

1. Throughput: one large file from nginx on 127.0.0.1, fetched by curl and by
   ``download_file`` in the same run, alternately, best of ``--rounds`` each.
2. Peak memory: the maximum resident set size of a child process that downloads a
   ``--small-mib`` and a ``--large-mib`` file, against a child that downloads 1 KiB.
3. Parallel: ``--files`` files from a location where nginx limits each connection to
   ``--rate-mib`` MiB/s, downloaded one after another and then with
   ``download_files`` at ``--files`` parallel transfers. nginx sends the first
   second's worth of bytes at once, so each file should be several times the rate.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20
BLOCK = 16 * MIB


def load_package() -> None:
    """Import the repository as package ``meshport``, as the test suite does."""
    spec = importlib.util.spec_from_file_location(
        "meshport",
        REPO_ROOT / "__init__.py",
        submodule_search_locations=[str(REPO_ROOT)],
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["meshport"] = module
    spec.loader.exec_module(module)


def build_http(base_url: str, state: Path):
    from meshport.core.config import PlatformSettings, Settings
    from meshport.core.http import PlatformHttp

    platform = PlatformSettings(platform_id="bench", base_url=base_url)
    settings = Settings(
        data_dir=state,
        download_dir=state / "downloads",
        online_access=True,
        platforms={"bench": platform},
        read_timeout=60.0,
    )
    return PlatformHttp(platform, settings, label="Benchmark")


def run_in_job(work):
    """Run ``work(context)`` as a job on a ``JobRunner`` and return its result."""
    from meshport.core.jobs import JobRunner

    runner = JobRunner(max_workers=1)
    results = []
    job = runner.submit(
        "benchmark", work, on_done=lambda job, value: results.append(value)
    )
    runner.wait(job)
    runner.shutdown()
    if job.state != "done":
        raise SystemExit(f"benchmark download failed: {job.error}")
    return results[0]


def child_download(url: str, destination: Path, state: Path) -> None:
    """Download one file in this process and print its time and peak memory."""
    load_package()
    from meshport.core.download import download_file

    http = build_http(url.rsplit("/", 1)[0], state)
    started = time.perf_counter()
    run_in_job(lambda context: download_file(http, url, destination, context))
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_kib / 1024}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_nginx(root: Path, www: Path, rate_mib: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(
        f"    {name}_temp_path {root / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = root / "nginx.conf"
    config.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {root / 'nginx.pid'};\n"
        f"error_log {root / 'error.log'};\nevents {{ worker_connections 256; }}\n"
        "http {\n    access_log off;\n    sendfile on;\n    tcp_nopush on;\n"
        f"{temp_paths}"
        f"    server {{\n        listen 127.0.0.1:{port};\n        root {www};\n"
        f"        location /limited/ {{ limit_rate {int(rate_mib * MIB)}; }}\n    }}\n}}\n"
    )
    process = subprocess.Popen(["nginx", "-p", f"{root}/", "-c", str(config)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"nginx did not start; see {root / 'error.log'}")


def write_random_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.writelines(
            os.urandom(min(BLOCK, size - offset)) for offset in range(0, size, BLOCK)
        )


def time_curl(url: str, destination: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(destination), url], check=True)
    return time.perf_counter() - started


def run_child(url: str, destination: Path, state: Path) -> dict:
    command = [sys.executable, __file__, "--child", url, str(destination), str(state)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    destination.unlink(missing_ok=True)
    return json.loads(output.strip().splitlines()[-1])


def measure_throughput(base: str, size: int, work: Path, rounds: int) -> dict:
    url = f"{base}/large.bin"
    curl_best, meshport_best = float("inf"), float("inf")
    for _ in range(rounds):
        curl_best = min(curl_best, time_curl(url, work / "curl.bin"))
        (work / "curl.bin").unlink()
        result = run_child(url, work / "meshport.bin", work / "state")
        meshport_best = min(meshport_best, result["seconds"])
    return {
        "file_mib": size / MIB,
        "curl_mib_per_s": size / MIB / curl_best,
        "meshport_mib_per_s": size / MIB / meshport_best,
        "meshport_share_of_curl": curl_best / meshport_best,
    }


def measure_memory(base: str, work: Path) -> dict:
    peaks = {}
    for name in ("tiny.bin", "small.bin", "large.bin"):
        peaks[name] = run_child(f"{base}/{name}", work / name, work / "state")[
            "peak_rss_mib"
        ]
    return {
        "baseline_peak_mib": peaks["tiny.bin"],
        "small_file_extra_mib": peaks["small.bin"] - peaks["tiny.bin"],
        "large_file_extra_mib": peaks["large.bin"] - peaks["tiny.bin"],
    }


def measure_parallel(base: str, count: int, work: Path) -> dict:
    load_package()
    from meshport.core.download import DownloadRequest, download_file, download_files

    http = build_http(base, work / "state")
    items = [
        DownloadRequest(
            f"{base}/limited/part{n}.bin", work / "parallel" / f"part{n}.bin"
        )
        for n in range(count)
    ]

    def sequential(context):
        for item in items:
            download_file(http, item.url, item.destination, context)

    started = time.perf_counter()
    run_in_job(sequential)
    sequential_seconds = time.perf_counter() - started
    shutil.rmtree(work / "parallel")

    started = time.perf_counter()
    run_in_job(lambda context: download_files(http, items, context, max_parallel=count))
    parallel_seconds = time.perf_counter() - started
    http.close()
    return {
        "files": count,
        "sequential_s": sequential_seconds,
        "parallel_s": parallel_seconds,
        "speed_up": sequential_seconds / parallel_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--large-mib", type=int, default=1024, help="large file size in MiB"
    )
    parser.add_argument(
        "--small-mib", type=int, default=100, help="small file size in MiB"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="throughput rounds per client"
    )
    parser.add_argument(
        "--files", type=int, default=10, help="files in the parallel test"
    )
    parser.add_argument(
        "--file-mib", type=int, default=4, help="size of each parallel file"
    )
    parser.add_argument(
        "--rate-mib", type=float, default=1.0, help="nginx limit per connection, MiB/s"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("URL", "DEST", "STATE"), help=argparse.SUPPRESS
    )
    options = parser.parse_args()
    if options.child:
        url, destination, state = options.child
        child_download(url, Path(destination), Path(state))
        return
    for tool in ("nginx", "curl"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"{tool} not found on PATH; install it (apt-get install {tool})."
            )

    work = Path(tempfile.mkdtemp(prefix="meshport-bench-"))
    www = work / "www"
    nginx = None
    try:
        write_random_file(www / "tiny.bin", 1024)
        write_random_file(www / "small.bin", options.small_mib * MIB)
        write_random_file(www / "large.bin", options.large_mib * MIB)
        for n in range(options.files):
            write_random_file(www / "limited" / f"part{n}.bin", options.file_mib * MIB)
        nginx, base = start_nginx(work, www, options.rate_mib)
        report = {
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "throughput": measure_throughput(
                base, options.large_mib * MIB, work, options.rounds
            ),
            "memory": measure_memory(base, work),
            "parallel": measure_parallel(base, options.files, work),
        }
        print(json.dumps(report, indent=2))
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
