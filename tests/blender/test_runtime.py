"""The job runtime: the drain timer, the file-load handler and a clean stop.

Timers never fire in the ``bpy`` module, so the tests call ``runtime.drain``
themselves, as Blender's timer would.
"""

from __future__ import annotations

import threading
import time

import bpy
import pytest
from meshport.blender import runtime
from meshport.blender import state as states
from meshport.blender.state import panel_state
from meshport.core.errors import JobCancelledError

# Seconds a test waits for a worker before failing; generous because the machine is
# shared, and never reached when the code works.
WORKER_TIMEOUT = 30.0


def meshport_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("meshport")]


def blocking_job(runner, started: threading.Event):
    """Submit a job that waits until cancelled."""

    def work(context):
        started.set()
        context.wait(WORKER_TIMEOUT)
        return "finished without cancel"

    return runner.submit("blocking test job", work)


@pytest.fixture
def fresh_runtime(addon):
    """Give the test a started runtime, and start a fresh one after it, so a test
    that stops the runtime leaves the add-on working for the next test."""
    runtime.start_timer()
    yield runtime
    runtime.stop()
    runtime.start_timer()


def drain_until(predicate, timeout: float = WORKER_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the job did not finish in time"
        runtime.drain()
        time.sleep(0.01)


def test_register_starts_timer_and_load_handler(fresh_runtime):
    assert runtime.timer_registered()
    assert runtime.cancel_jobs_before_load in bpy.app.handlers.load_pre


def test_drain_runs_job_callbacks_on_calling_thread(fresh_runtime):
    seen = []
    runner = runtime.get_runner()

    job = runner.submit(
        "adding job",
        lambda context: 2 + 3,
        on_done=lambda job, result: seen.append((result, threading.current_thread().name)),
    )
    drain_until(lambda: job.finished)

    assert seen == [(5, threading.current_thread().name)]


def test_drain_returns_short_interval_while_busy(fresh_runtime):
    started = threading.Event()
    job = blocking_job(runtime.get_runner(), started)
    assert started.wait(WORKER_TIMEOUT)

    assert runtime.drain() == runtime.BUSY_INTERVAL

    job.cancel()
    drain_until(lambda: job.finished)
    assert runtime.drain() == runtime.IDLE_INTERVAL


def test_stop_cancels_jobs_and_leaves_no_thread(fresh_runtime):
    started = threading.Event()
    job = blocking_job(runtime.get_runner(), started)
    assert started.wait(WORKER_TIMEOUT)

    ended = runtime.stop()

    assert ended
    assert job.context.cancelled
    assert meshport_threads() == []


def test_stop_removes_timer_and_handler(fresh_runtime):
    runtime.stop()

    assert not runtime.timer_registered()
    assert runtime.cancel_jobs_before_load not in bpy.app.handlers.load_pre


def test_stop_twice_is_harmless(fresh_runtime):
    assert runtime.stop()
    assert runtime.stop()


def test_runner_after_stop_is_new(fresh_runtime):
    before = runtime.get_runner()

    runtime.stop()

    assert runtime.get_runner() is not before


def test_loading_file_cancels_running_job(fresh_runtime):
    started = threading.Event()
    errors = []

    def work(context):
        started.set()
        context.wait(WORKER_TIMEOUT)

    job = runtime.get_runner().submit(
        "blocking test job", work, on_error=lambda job, error: errors.append(error)
    )
    assert started.wait(WORKER_TIMEOUT)

    bpy.ops.wm.read_homefile(use_empty=True)
    drain_until(lambda: job.finished)

    assert job.state == "cancelled"
    assert isinstance(errors[0], JobCancelledError)


def test_loading_file_resets_sidebar(fresh_runtime):
    panel_state.last_error = "an old error"
    panel_state.status_text = "old status"

    bpy.ops.wm.read_homefile(use_empty=True)

    assert panel_state.last_error == ""
    assert panel_state.status_text == ""


def test_unregister_leaves_no_thread_or_timer(addon):
    started = threading.Event()
    job = blocking_job(runtime.get_runner(), started)
    assert started.wait(WORKER_TIMEOUT)

    addon.unregister()
    try:
        assert job.context.cancelled
        assert meshport_threads() == []
        assert not runtime.timer_registered()
        assert not hasattr(bpy.types.WindowManager, "meshport")
    finally:
        addon.register()


def test_drain_survives_failing_callback(fresh_runtime):
    def broken_callback(job, result):
        raise ValueError("a bug in a callback")

    job = runtime.get_runner().submit(
        "job with broken callback", lambda c: 1, on_done=broken_callback
    )
    drain_until(lambda: job.finished)

    assert job.state == "failed"
    assert runtime.drain() == runtime.IDLE_INTERVAL


def test_drain_releases_sidebar_after_crashed_callback(fresh_runtime):
    def broken_callback(job, result):
        raise ValueError("a bug in a callback")

    job = runtime.get_runner().submit(
        "job with broken callback", lambda context: 1, on_done=broken_callback
    )
    panel_state.start(states.DOWNLOADING, job.job_id, "Downloading")
    drain_until(lambda: job.finished)
    runtime.drain()

    assert panel_state.phase == states.ERROR
    assert "failed unexpectedly" in panel_state.last_error
