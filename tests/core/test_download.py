"""download_file and download_files against a misbehaving file server on 127.0.0.1."""

from __future__ import annotations

import getpass
import gzip
import hashlib
import logging
import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from fakes.files import (
    FileServer,
    content_length,
    error_status,
    gzip_encoding,
    html_page,
    stall,
    truncate,
    unknown_length,
)
from meshport.core.download import (
    DownloadBatch,
    DownloadRequest,
    FileCheck,
    download_file,
    download_files,
    parallel_limit,
)
from meshport.core.download.transfer import _raw_chunks
from meshport.core.errors import (
    AccessDeniedError,
    DownloadError,
    JobCancelledError,
    PolicyError,
)
from meshport.core.http import PlatformHttp
from meshport.core.jobs import JobRunner
from meshport.core.models import TransferProgress
from meshport.core.retry import RetryPolicy

KEY = "test-key-0123456789"


def make_glb(size: int, seed: int = 0) -> bytes:
    """Return a GLB-shaped byte string of ``size`` bytes whose header length is right."""
    header = b"glTF" + struct.pack("<II", 2, size)
    payload = hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1)
    return header + payload[: size - len(header)]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".part"))


@pytest.fixture
def downloads(tmp_path) -> Path:
    """The download folder; ``tmp_path`` also contains the state folder of ``Settings``."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def files():
    with FileServer() as server:
        yield server


@pytest.fixture
def other_host():
    with FileServer() as server:
        yield server


@pytest.fixture
def runner():
    runner = JobRunner(max_workers=4)
    yield runner
    runner.shutdown(timeout=5)


@pytest.fixture
def make_http(make_settings):
    created = []

    def build(base_url: str, **overrides) -> PlatformHttp:
        settings = make_settings(
            {"sketchfab": base_url}, {"sketchfab": KEY}, **overrides
        )
        http = PlatformHttp(
            settings.platform("sketchfab"),
            settings,
            label="Test platform",
            retry_policy=RetryPolicy(random=lambda: 0.0),
            sleep=lambda seconds: None,
        )
        created.append(http)
        return http

    yield build
    for http in created:
        http.close()


@pytest.fixture
def http(files, make_http):
    return make_http(files.url)


def run_job(runner, work, timeout=30):
    """Run ``work(context)`` as a job and return the finished job and its result."""
    results = []
    job = runner.submit(
        "test job", work, on_done=lambda job, value: results.append(value)
    )
    runner.wait(job, timeout=timeout)
    return job, (results[0] if results else None)


def run_download(runner, http, url, destination, **kwargs):
    def work(context):
        return download_file(http, url, destination, context, **kwargs)

    return run_job(runner, work)[0]


# Plain transfers


def test_download_writes_the_file(files, http, runner, downloads):
    body = make_glb(300_000)
    url = files.add_file("/model.glb", body)
    job = run_download(
        runner, http, url, downloads / "model.glb", check=FileCheck(size=len(body))
    )
    assert job.state == "done"
    assert (downloads / "model.glb").read_bytes() == body
    assert leftovers(downloads) == []


def test_download_of_real_sample_file(files, http, runner, downloads, sample_assets):
    body = (sample_assets / "glb" / "Fox.glb").read_bytes()
    url = files.add_file("/Fox.glb", body, content_type="model/gltf-binary")
    check = FileCheck(size=len(body), md5=md5(body), kind="glb")
    job = run_download(runner, http, url, downloads / "Fox.glb", check=check)
    assert job.state == "done"
    assert (downloads / "Fox.glb").read_bytes() == body


def test_download_asks_for_identity_encoding(files, http, runner, downloads):
    url = files.add_file("/model.glb", make_glb(2000))
    run_download(runner, http, url, downloads / "model.glb")
    assert files.header_values("Accept-Encoding") == ["identity"]


def test_download_reports_transfer_progress(files, http, runner, downloads):
    body = make_glb(600_000)
    url = files.add_file("/model.glb", body)
    reports: list[TransferProgress] = []
    texts: list[str] = []
    job = runner.submit(
        "download",
        lambda context: download_file(
            http, url, downloads / "model.glb", context, on_progress=reports.append
        ),
        on_progress=lambda job: texts.append(job.progress_text),
    )
    runner.wait(job, timeout=30)
    assert reports[-1].done_bytes == len(body)
    assert reports[-1].total_bytes == len(body)
    assert reports[-1].fraction == 1.0
    assert reports[-1].bytes_per_second > 0
    assert "MiB" in texts[-1]


# Resume and restart


def test_download_resumes_with_range_request(files, http, runner, downloads):
    body = make_glb(400_000)
    url = files.add_file("/model.glb", body, faults=[truncate(150_000)])
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "done"
    assert files.range_headers() == [None, "bytes=150000-"]
    assert files.header_values("If-Range")[1] == f'"{md5(body)}"'
    assert (downloads / "model.glb").read_bytes() == body


def test_download_resume_uses_last_modified_with_weak_etag(
    files, http, runner, downloads
):
    body = make_glb(400_000)
    url = files.add_file("/model.glb", body, etag="weak", faults=[truncate(100_000)])
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "done"
    assert files.range_headers() == [None, "bytes=100000-"]
    assert files.header_values("If-Range")[1].endswith("GMT")
    assert (downloads / "model.glb").read_bytes() == body


def test_download_restarts_when_server_ignores_range(files, http, runner, downloads):
    body = make_glb(400_000)
    url = files.add_file("/model.glb", body, ranges=False, faults=[truncate(150_000)])
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "done"
    assert len(files.requests_seen) == 2
    assert (downloads / "model.glb").read_bytes() == body


def test_download_restarts_without_validator(files, http, runner, downloads):
    body = make_glb(400_000)
    url = files.add_file(
        "/model.glb", body, etag=None, last_modified=False, faults=[truncate(150_000)]
    )
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "done"
    assert files.range_headers() == [None, None]
    assert (downloads / "model.glb").read_bytes() == body


def test_download_restarts_when_file_changed(files, http, runner, downloads):
    old, new = make_glb(400_000, seed=1), make_glb(380_000, seed=2)
    url = files.add_file("/model.glb", old, faults=[truncate(150_000)])
    changed = threading.Event()

    def change_after_first_request(progress):
        if not changed.is_set():
            files.replace_body("/model.glb", new)
            changed.set()

    job = runner.submit(
        "download",
        lambda context: download_file(
            http,
            url,
            downloads / "model.glb",
            context,
            on_progress=change_after_first_request,
        ),
    )
    runner.wait(job, timeout=30)
    assert job.state == "done"
    assert files.range_headers() == [None, "bytes=150000-"]
    assert (downloads / "model.glb").read_bytes() == new


def test_download_gives_up_after_max_attempts(files, http, runner, downloads):
    body = make_glb(400_000)
    faults = [truncate(50_000 * (n + 1)) for n in range(5)]
    url = files.add_file("/model.glb", body, ranges=False, faults=faults)
    job = run_download(runner, http, url, downloads / "model.glb", max_attempts=3)
    assert job.state == "failed"
    assert isinstance(job.error, DownloadError)
    assert "broke off 3 times" in job.error.message
    assert len(files.requests_seen) == 3
    assert leftovers(downloads) == []
    assert not (downloads / "model.glb").exists()


# Lies and error pages


def test_download_rejects_html_error_page(files, http, runner, downloads):
    url = files.add_file("/model.glb", make_glb(2000), faults=[html_page()])
    job = run_download(
        runner, http, url, downloads / "model.glb", check=FileCheck(kind="glb")
    )
    assert job.state == "failed"
    assert "instead of the file" in job.error.message
    assert os.listdir(downloads) == []


def test_download_rejects_html_page_for_file_without_kind(
    files, http, runner, downloads
):
    url = files.add_file("/scene.bin", b"\x00" * 4000, faults=[html_page()])
    job = run_download(runner, http, url, downloads / "scene.bin")
    assert job.state == "failed"
    assert isinstance(job.error, DownloadError)
    assert os.listdir(downloads) == []


def test_download_rejects_html_page_for_gltf_suffix(files, http, runner, downloads):
    url = files.add_file(
        "/scene.gltf", b'{"asset": {"version": "2.0"}}', faults=[html_page()]
    )
    job = run_download(runner, http, url, downloads / "scene.gltf")
    assert job.state == "failed"
    assert isinstance(job.error, DownloadError)
    assert os.listdir(downloads) == []


def test_download_accepts_text_file_without_kind(files, http, runner, downloads):
    body = b"# a Wavefront OBJ\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    url = files.add_file("/tri.obj", body, content_type="text/plain")
    job = run_download(runner, http, url, downloads / "tri.obj")
    assert job.state == "done"
    assert (downloads / "tri.obj").read_bytes() == body


def test_download_accepts_xml_model_format(files, http, runner, downloads):
    body = b'<?xml version="1.0"?>\n<COLLADA version="1.4.1"></COLLADA>\n'
    url = files.add_file("/chair.dae", body, content_type="text/xml")
    job = run_download(runner, http, url, downloads / "chair.dae")
    assert job.state == "done"
    assert (downloads / "chair.dae").read_bytes() == body


def test_download_rejects_html_page_for_xml_model_format(
    files, http, runner, downloads
):
    url = files.add_file(
        "/chair.dae", b"<?xml version='1.0'?><COLLADA/>", faults=[html_page()]
    )
    job = run_download(runner, http, url, downloads / "chair.dae")
    assert job.state == "failed"
    assert "instead of the file" in job.error.message
    assert os.listdir(downloads) == []


def test_download_rejects_xml_error_body_with_status_200(
    files, http, runner, downloads
):
    from fakes.files import XML_ERROR
    from fakes.server import Reply

    files.route(
        "GET",
        "/scene.bin",
        lambda info: Reply(200, XML_ERROR, {"Content-Type": "application/xml"}),
    )
    job = run_download(runner, http, files.url + "/scene.bin", downloads / "scene.bin")
    assert job.state == "failed"
    assert "instead of the file" in job.error.message
    assert os.listdir(downloads) == []


def test_download_rejects_short_content_length_against_platform_size(
    files, http, runner, downloads
):
    body = make_glb(300_000)
    url = files.add_file("/model.glb", body, faults=[content_length(200_000)])
    job = run_download(
        runner, http, url, downloads / "model.glb", check=FileCheck(size=len(body))
    )
    assert job.state == "failed"
    assert "size mismatch" in job.error.message
    assert os.listdir(downloads) == []


def test_download_detects_short_content_length_from_glb_header(
    files, http, runner, downloads
):
    body = make_glb(300_000)
    url = files.add_file("/model.glb", body, faults=[content_length(200_000)])
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "failed"
    assert "cut short" in job.error.message
    assert os.listdir(downloads) == []


def test_download_detects_cut_zip_from_missing_directory(
    files, http, runner, downloads
):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scene.gltf", '{"asset": {"version": "2.0"}}' * 3000)
    body = buffer.getvalue()
    url = files.add_file("/model.zip", body, faults=[content_length(len(body) // 2)])
    job = run_download(runner, http, url, downloads / "model.zip")
    assert job.state == "failed"
    assert "central directory" in job.error.message
    assert os.listdir(downloads) == []


def test_download_recovers_from_long_content_length(files, http, runner, downloads):
    body = make_glb(300_000)
    url = files.add_file("/model.glb", body, faults=[content_length(500_000)])
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "done"
    assert (downloads / "model.glb").read_bytes() == body


def test_download_rejects_lasting_long_content_length(files, http, runner, downloads):
    body = make_glb(300_000)
    url = files.add_file("/model.glb", body, faults=[content_length(500_000)] * 4)
    job = run_download(runner, http, url, downloads / "model.glb", max_attempts=2)
    assert job.state == "failed"
    assert isinstance(job.error, DownloadError)
    assert os.listdir(downloads) == []


def test_download_rejects_md5_mismatch(files, http, runner, downloads):
    body = make_glb(3000)
    url = files.add_file("/model.glb", body)
    check = FileCheck(md5=md5(b"something else"))
    job = run_download(runner, http, url, downloads / "model.glb", check=check)
    assert job.state == "failed"
    assert "md5 mismatch" in job.error.message
    assert os.listdir(downloads) == []


# Content-Encoding despite identity


def test_download_decodes_gzip_content_encoding(files, http, runner, downloads):
    body = b'{"asset": {"version": "2.0"}, "nodes": []}' + b" " * 50_000
    url = files.add_file("/scene.gltf", body, faults=[gzip_encoding()])
    job = run_download(
        runner, http, url, downloads / "scene.gltf", check=FileCheck(size=len(body))
    )
    assert job.state == "done"
    assert (downloads / "scene.gltf").read_bytes() == body
    assert leftovers(downloads) == []


def test_download_keeps_gzip_file_labelled_as_encoding(files, http, runner, downloads):
    # A stored .gz file served with "Content-Encoding: gzip": the fake compresses
    # the already compressed body once more, so decoding once gives the real file.
    stored = gzip.compress(b"tar bytes " * 1000)
    url = files.add_file("/pack.unitypackage", stored, faults=[gzip_encoding()])
    job = run_download(runner, http, url, downloads / "pack.unitypackage")
    assert job.state == "done"
    assert (downloads / "pack.unitypackage").read_bytes() == stored


def test_download_rejects_gzip_body_failing_checks(files, http, runner, downloads):
    url = files.add_file(
        "/model.glb", b"not a model at all" * 100, faults=[gzip_encoding()]
    )
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "failed"
    assert "not a GLB file" in job.error.message
    assert os.listdir(downloads) == []


def test_download_rejects_gzip_encoding_without_checks(files, http, runner, downloads):
    files.add_file("/data.bin", b"payload")
    files.route(
        "GET", "/broken.bin", lambda info: _reply_with_encoding(b"not gzip", "gzip")
    )
    job = run_download(runner, http, files.url + "/broken.bin", downloads / "data.bin")
    assert job.state == "failed"
    assert "not valid gzip" in job.error.message
    assert os.listdir(downloads) == []


def test_download_rejects_unknown_content_encoding(files, http, runner, downloads):
    files.route(
        "GET", "/model.glb", lambda info: _reply_with_encoding(b"\x00" * 100, "br")
    )
    job = run_download(runner, http, files.url + "/model.glb", downloads / "model.glb")
    assert job.state == "failed"
    assert "'br'" in job.error.message
    assert os.listdir(downloads) == []


def _reply_with_encoding(body: bytes, encoding: str):
    from fakes.server import Reply

    return Reply(200, body, {"Content-Encoding": encoding})


# Authorization and expiring links


def test_download_keeps_authorization_on_redirect_to_other_port(
    files, other_host, make_http, runner, downloads
):
    body = make_glb(5000)
    target = other_host.add_file("/storage/model.glb", body)
    url = files.add_redirect("/v3/models/abc/file", target)
    http = make_http(files.url)
    job = run_download(runner, http, url, downloads / "model.glb", authenticated=True)
    assert job.state == "done"
    assert files.header_values("Authorization") == [f"Token {KEY}"]
    assert other_host.header_values("Authorization") == [None]


def test_download_sends_no_authorization_to_other_host(
    files, other_host, make_http, runner, downloads
):
    url = other_host.add_file("/storage/model.glb", make_glb(5000))
    http = make_http(files.url)
    job = run_download(runner, http, url, downloads / "model.glb", authenticated=True)
    assert job.state == "done"
    assert other_host.header_values("Authorization") == [None]


def test_download_sends_no_authorization_by_default(files, http, runner, downloads):
    url = files.add_file("/model.glb", make_glb(5000))
    run_download(runner, http, url, downloads / "model.glb")
    assert files.header_values("Authorization") == [None]


def test_download_reports_expired_link(files, http, runner, downloads):
    files.add_file("/storage/model.glb", make_glb(5000), signed=True)
    url = files.signed_url("/storage/model.glb", uses=0)
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "failed"
    assert isinstance(job.error, AccessDeniedError)
    assert job.error.status == 403
    assert os.listdir(downloads) == []


def test_download_renews_expired_link_once(files, http, runner, downloads):
    body = make_glb(400_000)
    files.add_file("/storage/model.glb", body, signed=True, faults=[truncate(120_000)])
    url = files.signed_url("/storage/model.glb", uses=1)
    renewals = []

    def renew():
        renewals.append(1)
        return files.signed_url("/storage/model.glb", uses=1)

    job = run_download(runner, http, url, downloads / "model.glb", renew_url=renew)
    assert job.state == "done"
    assert renewals == [1]
    assert files.range_headers() == [None, "bytes=120000-", "bytes=120000-"]
    assert (downloads / "model.glb").read_bytes() == body


def test_download_renews_link_only_once(files, http, runner, downloads):
    files.add_file("/storage/model.glb", make_glb(5000), faults=[error_status(403)] * 3)
    url = files.url + "/storage/model.glb"
    job = run_download(
        runner, http, url, downloads / "model.glb", renew_url=lambda: url
    )
    assert job.state == "failed"
    assert job.error.status == 403
    assert len(files.requests_seen) == 2
    assert os.listdir(downloads) == []


# Cancel


def test_cancel_stops_stalled_transfer(files, make_http, runner, downloads):
    http = make_http(files.url, read_timeout=120.0)
    url = files.add_file("/model.glb", make_glb(400_000), faults=[stall(100_000)])
    job = runner.submit(
        "download",
        lambda context: download_file(http, url, downloads / "model.glb", context),
    )
    assert files.stalled.wait(10)
    time.sleep(0.3)  # let the worker block in its read
    cancelled_at = time.monotonic()
    job.cancel()
    runner.wait(job, timeout=10)
    assert time.monotonic() - cancelled_at < 5.0
    assert job.state == "cancelled"
    assert os.listdir(downloads) == []


def test_cancel_stops_wait_for_response_headers(make_http, runner, downloads):
    """A server that accepts the connection and never responds: the worker blocks in
    its read until the cancel shuts the socket down."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/model.glb"
    http = make_http(url.rsplit("/", 1)[0], read_timeout=120.0)
    job = runner.submit(
        "download",
        lambda context: download_file(http, url, downloads / "model.glb", context),
    )
    while not accepted:
        time.sleep(0.02)
    time.sleep(0.3)  # let the worker block waiting for the headers

    cancelled_at = time.monotonic()
    job.cancel()
    runner.wait(job, timeout=10)

    assert time.monotonic() - cancelled_at < 1.0
    assert job.state == "cancelled"
    assert os.listdir(downloads) == []
    accepted[0][0].close()
    listener.close()


def test_cancel_during_retry_wait(files, make_http, runner, downloads):
    http = make_http(files.url)
    http.retry_policy = RetryPolicy(base_delay=60.0, max_delay=60.0, random=lambda: 1.0)
    url = files.add_file("/model.glb", make_glb(400_000), faults=[truncate(100_000)])
    job = runner.submit(
        "download",
        lambda context: download_file(http, url, downloads / "model.glb", context),
    )
    while len(files.requests_seen) < 1 or not (downloads / "model.glb.part").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    job.cancel()
    runner.wait(job, timeout=10)
    assert job.state == "cancelled"
    assert os.listdir(downloads) == []


# Several downloads at once


def test_download_files_fetches_every_file(files, http, runner, downloads):
    bodies = {f"/part{n}.glb": make_glb(300_000 + n * 1000, seed=n) for n in range(10)}
    items = [
        DownloadRequest(
            files.add_file(path, body, bytes_per_second=1_000_000),
            downloads / path.lstrip("/"),
        )
        for path, body in bodies.items()
    ]
    job = runner.submit("batch", lambda context: download_files(http, items, context))
    runner.wait(job, timeout=60)
    assert job.state == "done"
    for path, body in bodies.items():
        assert (downloads / path.lstrip("/")).read_bytes() == body
    assert 1 < files.max_in_flight <= 4


def test_download_files_runs_sixteen_over_one_pool(
    files, http, runner, downloads, caplog
):
    bodies = {f"/part{n}.glb": make_glb(200_000, seed=n) for n in range(16)}
    items = [
        DownloadRequest(
            files.add_file(path, body, bytes_per_second=1_000_000),
            downloads / path.lstrip("/"),
        )
        for path, body in bodies.items()
    ]
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        job, paths = run_job(
            runner,
            lambda context: download_files(http, items, context, max_parallel=16),
        )
    assert job.state == "done"
    assert [path.read_bytes() for path in paths] == list(bodies.values())
    assert files.max_in_flight <= 16
    assert "Connection pool is full" not in caplog.text


def test_download_files_failure_cancels_the_rest(files, make_http, runner, downloads):
    http = make_http(files.url, read_timeout=120.0)
    items = [
        DownloadRequest(
            files.add_file(
                f"/slow{n}.glb", make_glb(400_000, seed=n), faults=[stall(100_000)]
            ),
            downloads / f"slow{n}.glb",
        )
        for n in range(3)
    ]
    items.append(
        DownloadRequest(
            files.add_file("/bad.glb", make_glb(2000), faults=[html_page()]),
            downloads / "bad.glb",
        )
    )
    job = runner.submit("batch", lambda context: download_files(http, items, context))
    runner.wait(job, timeout=30)
    assert job.state == "failed"
    assert "instead of the file" in job.error.message
    assert leftovers(downloads) == []


def test_download_batch_cancels_one_item(files, make_http, runner, downloads):
    http = make_http(files.url, read_timeout=120.0)
    stalled = files.add_file("/stalled.glb", make_glb(400_000), faults=[stall(100_000)])
    fine = files.add_file("/fine.glb", make_glb(3000))
    items = [
        DownloadRequest(stalled, downloads / "stalled.glb"),
        DownloadRequest(fine, downloads / "fine.glb"),
    ]
    batches = []

    def work(context):
        batch = DownloadBatch(http, items, context, stop_on_error=False)
        batches.append(batch)
        return batch.run()

    results = []
    job = runner.submit("batch", work, on_done=lambda job, value: results.append(value))
    assert files.stalled.wait(10)
    batches[0].cancel(0)
    runner.wait(job, timeout=10)
    outcomes = results[0]
    assert isinstance(outcomes[0].error, JobCancelledError)
    assert outcomes[1].path == downloads / "fine.glb"
    assert leftovers(downloads) == []


def test_cancel_job_stops_every_batch_item(files, make_http, runner, downloads):
    http = make_http(files.url, read_timeout=120.0)
    items = [
        DownloadRequest(
            files.add_file(
                f"/slow{n}.glb", make_glb(400_000, seed=n), faults=[stall(100_000)]
            ),
            downloads / f"slow{n}.glb",
        )
        for n in range(3)
    ]
    job = runner.submit("batch", lambda context: download_files(http, items, context))
    while files.max_in_flight < 3:
        time.sleep(0.05)
    job.cancel()
    runner.wait(job, timeout=10)
    assert job.state == "cancelled"
    assert leftovers(downloads) == []


def test_parallel_limit_clamps_to_allowed_range():
    assert parallel_limit(99) == 16
    assert parallel_limit(0) == 1
    assert parallel_limit(4) == 4


# Studio policy: the largest download


@pytest.fixture
def download_limit(tmp_path, monkeypatch):
    """Deploy a policy whose only role, given to this user, allows ``limit`` bytes."""

    def deploy(limit: int) -> None:
        path = tmp_path / "policy.toml"
        path.write_text(
            f'[users]\n"{getpass.getuser()}" = "artist"\n\n'
            f"[roles.artist]\nmax_download_bytes = {limit}\n"
        )
        monkeypatch.setenv("MESHPORT_POLICY", str(path))

    return deploy


def test_policy_blocks_large_content_length(
    files, http, runner, downloads, download_limit
):
    download_limit(100_000)
    url = files.add_file("/model.glb", make_glb(300_000))
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "failed"
    assert isinstance(job.error, PolicyError)
    assert "Studio policy blocked a download" in str(job.error)
    assert list(downloads.iterdir()) == []


def test_policy_blocks_announced_large_file(
    files, http, runner, downloads, download_limit
):
    download_limit(100_000)
    url = files.add_file("/model.glb", make_glb(300_000))
    check = FileCheck(size=300_000)
    job = run_download(runner, http, url, downloads / "model.glb", check=check)
    assert isinstance(job.error, PolicyError)
    assert files.paths_seen() == []


def test_policy_stops_unknown_size_file(
    files, http, runner, downloads, download_limit
):
    download_limit(100_000)
    url = files.add_file("/model.glb", make_glb(3_000_000), faults=[unknown_length()])
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "failed"
    assert isinstance(job.error, PolicyError)
    assert list(downloads.iterdir()) == []


def test_policy_allows_file_within_limit(
    files, http, runner, downloads, download_limit
):
    download_limit(300_000)
    body = make_glb(300_000)
    url = files.add_file("/model.glb", body, faults=[unknown_length()])
    job = run_download(runner, http, url, downloads / "model.glb")
    assert job.state == "done"
    assert (downloads / "model.glb").read_bytes() == body


def test_raw_chunks_fall_back_to_stream_without_read1():
    class RawWithoutRead1:
        """The part of urllib3's HTTPResponse that versions before 2.3 offer."""

        def stream(self, amount, decode_content):
            assert decode_content is False
            yield b"glTF"
            yield b"rest"

    assert list(_raw_chunks(RawWithoutRead1())) == [b"glTF", b"rest"]


def test_download_errors_name_the_platform(files, http, runner, downloads):
    url = files.add_file("/model.glb", make_glb(2000), faults=[html_page()])

    job = run_download(runner, http, url, downloads / "model.glb", max_attempts=1)

    assert job.error.message.startswith("Test platform: model.glb: the server sent an HTML")
