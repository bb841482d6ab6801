"""JobRunner: results reach the draining thread; cancel ends a job."""

import threading

from meshport.core.errors import DownloadError
from meshport.core.jobs import JobRunner


def test_job_result_arrives_through_drain():
    runner = JobRunner(max_workers=2)
    results = []
    job = runner.submit("add", lambda ctx: 2 + 3, on_done=lambda job, value: results.append(value))
    runner.wait(job, timeout=5)
    assert job.state == "done"
    assert results == [5]
    assert runner.shutdown()


def test_job_error_reaches_on_error():
    runner = JobRunner(max_workers=1)
    errors = []

    def fail(ctx):
        raise DownloadError("md5 mismatch")

    job = runner.submit("fail", fail, on_error=lambda job, error: errors.append(error.message))
    runner.wait(job, timeout=5)
    assert job.state == "failed"
    assert errors == ["md5 mismatch"]
    runner.shutdown()


def test_cancel_wakes_a_waiting_job():
    runner = JobRunner(max_workers=1)
    started = threading.Event()

    def wait_long(ctx):
        started.set()
        ctx.wait(60)

    job = runner.submit("sleeper", wait_long)
    started.wait(5)
    job.cancel()
    runner.wait(job, timeout=5)
    assert job.state == "cancelled"
    assert runner.shutdown(timeout=2)


def test_shutdown_leaves_no_worker_thread():
    runner = JobRunner(max_workers=2)
    job = runner.submit("sleeper", lambda ctx: ctx.wait(60))
    assert runner.worker_threads()
    runner.shutdown(timeout=2)
    alive = [thread.name for thread in runner.worker_threads() if thread.is_alive()]
    assert alive == []
    assert job.context.cancelled
