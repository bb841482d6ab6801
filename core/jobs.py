"""Worker threads and the main-thread event queue.

Workers do network and file work only. Every result, progress report and error is
posted to ``JobRunner.events``; ``JobRunner.drain`` runs the callbacks on whichever
thread calls it. In Blender that is a ``bpy.app.timers`` function; in tests and on
the command line, where timers never fire, the caller drives ``drain`` itself.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import JobCancelledError, MeshportError

log = logging.getLogger(__name__)

MainThreadCallback = Callable[..., None]


class JobContext:
    """The cancel flag and progress channel passed to a job's worker function."""

    def __init__(self, job: Job, runner: JobRunner):
        self._job = job
        self._runner = runner
        self._cancel_event = threading.Event()
        self._cancel_callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def job_id(self) -> int:
        return self._job.job_id

    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._cancel_event.is_set():
            raise JobCancelledError(f"{self._job.label}: cancelled.")

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking at once and raising if cancelled."""
        if self._cancel_event.wait(seconds):
            self.raise_if_cancelled()

    def report_progress(self, fraction: float | None, text: str = "") -> None:
        self._runner._post(self._job, "progress", (fraction, text))

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Register ``callback`` to run on the cancelling thread, for example to close
        a socket a worker is blocked on. Returns a function that unregisters it."""
        with self._lock:
            self._cancel_callbacks.append(callback)
            if self._cancel_event.is_set():
                self._run_callback(callback)

        def unregister() -> None:
            with self._lock:
                if callback in self._cancel_callbacks:
                    self._cancel_callbacks.remove(callback)

        return unregister

    def cancel(self) -> None:
        with self._lock:
            self._cancel_event.set()
            callbacks = list(self._cancel_callbacks)
        for callback in callbacks:
            self._run_callback(callback)

    @staticmethod
    def _run_callback(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # a cancel hook must never break cancelling
            log.debug("cancel callback failed", exc_info=True)


@dataclass
class Job:
    job_id: int
    label: str
    platform: str | None = None
    state: str = "queued"
    progress: float | None = None
    progress_text: str = ""
    error: MeshportError | None = None
    context: JobContext | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def cancel(self) -> None:
        if self.context is not None and not self.finished:
            self.context.cancel()


@dataclass
class _Callbacks:
    on_done: MainThreadCallback | None
    on_error: MainThreadCallback | None
    on_progress: MainThreadCallback | None


class JobRunner:
    """A thread pool whose results come back through a queue drained by the caller."""

    def __init__(self, max_workers: int = 4):
        self.events: queue.Queue = queue.Queue()
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="meshport")
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._callbacks: dict[int, _Callbacks] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def active_jobs(self) -> list[Job]:
        return [job for job in self.jobs if not job.finished]

    def submit(
        self,
        label: str,
        work: Callable[[JobContext], Any],
        *,
        platform: str | None = None,
        on_done: MainThreadCallback | None = None,
        on_error: MainThreadCallback | None = None,
        on_progress: MainThreadCallback | None = None,
    ) -> Job:
        """Run ``work(context)`` on a worker. ``on_done(job, result)``,
        ``on_error(job, error)`` and ``on_progress(job)`` run later inside ``drain``."""
        if self._closed:
            raise RuntimeError("JobRunner is shut down")
        job = Job(job_id=next(self._ids), label=label, platform=platform)
        job.context = JobContext(job, self)
        with self._lock:
            self._jobs[job.job_id] = job
            self._callbacks[job.job_id] = _Callbacks(on_done, on_error, on_progress)
        self._executor.submit(self._run, job, work)
        return job

    def cancel(self, job_id: int) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            job.cancel()

    def cancel_all(self) -> None:
        for job in self.active_jobs():
            job.cancel()

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel every job and wait up to ``timeout`` seconds for the workers to end.
        Returns True when every worker thread has ended."""
        self._closed = True
        self.cancel_all()
        self._executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for thread in self.worker_threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self.worker_threads())

    def worker_threads(self) -> list[threading.Thread]:
        # NOTE: ThreadPoolExecutor keeps its threads in a private set; there is no
        # public accessor in Python 3.11 to 3.13.
        return list(getattr(self._executor, "_threads", ()))

    def drain(self, max_seconds: float = 0.005) -> int:
        """Run queued callbacks for up to ``max_seconds``; returns how many ran."""
        deadline = time.monotonic() + max_seconds
        handled = 0
        while True:
            try:
                job, kind, payload = self.events.get_nowait()
            except queue.Empty:
                return handled
            self._dispatch(job, kind, payload)
            handled += 1
            if time.monotonic() >= deadline:
                return handled

    def wait(self, job: Job, timeout: float | None = None, poll: float = 0.02) -> Job:
        """Drive ``drain`` until ``job`` has finished (for the command line and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not job.finished:
            if self.drain(max_seconds=0.05) == 0:
                time.sleep(poll)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job.label} still running after {timeout} s")
        self.drain(max_seconds=1.0)
        return job

    def _post(self, job: Job, kind: str, payload: Any) -> None:
        self.events.put((job, kind, payload))

    def _run(self, job: Job, work: Callable[[JobContext], Any]) -> None:
        context = job.context
        try:
            context.raise_if_cancelled()
            self._post(job, "started", None)
            result = work(context)
            context.raise_if_cancelled()
        except JobCancelledError as error:
            self._post(job, "cancelled", error)
        except MeshportError as error:
            if context.cancelled:
                self._post(job, "cancelled", JobCancelledError(f"{job.label}: cancelled."))
            else:
                log.info("job %s failed: %s", job.label, error.message)
                self._post(job, "failed", error)
        except Exception as error:  # an unexpected bug must still end the job cleanly
            log.exception("job %s crashed", job.label)
            wrapped = MeshportError(
                f"{job.label} failed unexpectedly ({type(error).__name__}). "
                "The Meshport log has the details."
            )
            self._post(job, "failed", wrapped)
        else:
            self._post(job, "done", result)

    def _dispatch(self, job: Job, kind: str, payload: Any) -> None:
        callbacks = self._callbacks.get(job.job_id)
        if kind == "started":
            job.state = "running"
            return
        if kind == "progress":
            job.progress, job.progress_text = payload
            if callbacks and callbacks.on_progress:
                self._call(callbacks.on_progress, job)
            return

        job.state = kind
        if kind == "done":
            job.progress = 1.0
            if callbacks and callbacks.on_done:
                self._call(callbacks.on_done, job, payload)
        else:
            job.error = payload
            if callbacks and callbacks.on_error:
                self._call(callbacks.on_error, job, payload)
        with self._lock:
            self._callbacks.pop(job.job_id, None)

    def _call(self, callback: MainThreadCallback, job: Job, *args: Any) -> None:
        try:
            callback(job, *args)
        except MeshportError as error:
            # A main-thread step (such as the import) failed: the job failed.
            job.state = "failed"
            job.error = error
            callbacks = self._callbacks.get(job.job_id)
            if callbacks and callbacks.on_error and callback is not callbacks.on_error:
                self._call(callbacks.on_error, job, error)
        except Exception:
            log.exception("main-thread callback for job %s raised", job.label)
            job.state = "failed"
            job.error = MeshportError(
                f"{job.label} failed unexpectedly. The Meshport log has the details."
            )
