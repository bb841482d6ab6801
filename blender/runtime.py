"""The process-wide job runner, the timer that drains it, and the file-load handler.

Workers post their results to the runner's queue. ``drain`` runs on Blender's main
thread as a persistent ``bpy.app.timers`` function: it runs the queued callbacks and
tags the sidebar for redraw. Timers never fire in the ``bpy`` module or while a
``blender -b`` script runs, so tests and the command line call ``drain`` (or
``JobRunner.wait``) themselves.
"""

from __future__ import annotations

import logging
import sys

import bpy

from ..core.errors import MeshportError
from ..core.jobs import JobRunner
from . import assets
from .state import panel_state, status_cache

log = logging.getLogger(__name__)

# Seconds between two timer calls while a job runs, and while none does.
BUSY_INTERVAL = 0.1
IDLE_INTERVAL = 0.5
# Maximum time one timer call spends running callbacks, in seconds. A callback that
# is already running (such as an import) finishes even past it.
DRAIN_BUDGET = 0.005
# How long ``stop`` waits for worker threads to end, in seconds.
STOP_TIMEOUT = 5.0
MAX_WORKERS = 4

CORE_PACKAGE = __package__.rpartition(".")[0] + ".core"
# Modules that keep files or connections open across jobs, and the function that
# closes them. Only modules a worker already imported are closed, so disabling the
# add-on never imports Redis or SQLite code that was not in use.
SHARED_RESOURCES = (
    ("ratelimit", "close_stores"),
    ("audit", "close_logs"),
    ("studio", "close_connections"),
)

_runner: JobRunner | None = None


def get_runner() -> JobRunner:
    """Return this process's job runner, creating it on first use."""
    global _runner
    if _runner is None:
        _runner = JobRunner(max_workers=MAX_WORKERS)
    return _runner


def drain() -> float | None:
    """Run queued job callbacks and redraw the sidebar (the timer function's body).

    Returns the seconds until the next call, as ``bpy.app.timers`` expects. Every
    exception is caught and logged, because Blender removes a timer whose function
    raised.
    """
    runner = _runner
    if runner is None:
        return IDLE_INTERVAL
    try:
        handled = runner.drain(max_seconds=DRAIN_BUDGET)
        release_finished_job(runner)
        busy = bool(runner.active_jobs())
        if handled or busy:
            tag_sidebar_redraw()
    except Exception:
        log.exception("draining the Meshport job queue failed")
        return IDLE_INTERVAL
    return BUSY_INTERVAL if busy else IDLE_INTERVAL


def release_finished_job(runner: JobRunner) -> None:
    """Leave the busy phase when the sidebar's job ended without a callback reaching
    the sidebar (a callback that crashed), so the operators become usable again."""
    job_id = panel_state.job_id
    if job_id is None or not panel_state.busy:
        return
    job = next((job for job in runner.jobs if job.job_id == job_id), None)
    if job is None or not job.finished:
        return
    log.warning("job %s ended as %s without updating the sidebar", job.label, job.state)
    if job.state == "done":
        panel_state.finish()
    else:
        panel_state.show_error(job.error or MeshportError(f"{job.label} failed."))


def tag_sidebar_redraw() -> None:
    """Tag the sidebar region of every 3D View for redraw."""
    window_manager = bpy.context.window_manager
    if window_manager is None:
        return
    for window in window_manager.windows:
        screen = window.screen
        if screen is None:
            continue
        for area in screen.areas:
            if area.type != "VIEW_3D":
                continue
            for region in area.regions:
                if region.type == "UI":
                    region.tag_redraw()


@bpy.app.handlers.persistent
def cancel_jobs_before_load(*_args) -> None:
    """Cancel every job before another .blend loads, because a finished download
    must not be imported into a file the artist did not start it from."""
    if _runner is not None:
        for job in _runner.active_jobs():
            log.info("cancelling job %s because another file is loading", job.label)
            job.cancel()
    panel_state.reset()


def start_timer() -> None:
    """Register the drain timer and the file-load handler (once each)."""
    if not bpy.app.timers.is_registered(drain):
        bpy.app.timers.register(drain, first_interval=IDLE_INTERVAL, persistent=True)
    if cancel_jobs_before_load not in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.append(cancel_jobs_before_load)


def timer_registered() -> bool:
    return bpy.app.timers.is_registered(drain)


def stop() -> bool:
    """Cancel every job, wait for the workers, and remove the timer and handler.

    Called when the add-on is disabled, so nothing of Meshport runs afterwards. Returns
    True when every worker thread has ended within ``STOP_TIMEOUT`` seconds.
    """
    global _runner
    if bpy.app.timers.is_registered(drain):
        bpy.app.timers.unregister(drain)
    while cancel_jobs_before_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(cancel_jobs_before_load)

    runner, _runner = _runner, None
    ended = True
    if runner is not None:
        ended = runner.shutdown(timeout=STOP_TIMEOUT)
        if not ended:
            log.warning(
                "a Meshport worker thread was still running %s s after cancel", STOP_TIMEOUT
            )
    _close_shared_files()
    assets.forget_caches()
    panel_state.reset()
    status_cache.finish_refresh(None)
    status_cache.report = None
    return ended


def _close_shared_files() -> None:
    """Close the rate-limit databases, audit logs and Redis connections the
    workers opened, so the add-on leaves no open file behind."""
    for module_name, function_name in SHARED_RESOURCES:
        module = sys.modules.get(f"{CORE_PACKAGE}.{module_name}")
        if module is None:
            continue
        try:
            getattr(module, function_name)()
        except Exception:
            log.warning("closing %s failed", module_name, exc_info=True)
