"""Several downloads on worker threads over the platform's shared connection pool."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import JobCancelledError, MeshportError
from ..http import PlatformHttp
from ..jobs import JobContext
from ..models import TransferProgress
from .checks import FileCheck
from .file import download_file
from .progress import PROGRESS_INTERVAL, describe, transfer_progress
from .transfer import DEFAULT_MAX_ATTEMPTS

log = logging.getLogger(__name__)

DEFAULT_PARALLEL_DOWNLOADS = 4
MAX_PARALLEL_DOWNLOADS = 16


@dataclass(frozen=True)
class DownloadRequest:
    """One file of a batch, with the arguments ``download_file`` takes for it."""

    url: str
    destination: Path
    check: FileCheck = FileCheck()  # noqa: RUF009 (a frozen dataclass)
    authenticated: bool = False
    label: str | None = None


@dataclass
class DownloadOutcome:
    """The result of one batch item: ``path`` when it finished, else ``error``."""

    request: DownloadRequest
    path: Path | None = None
    error: MeshportError | None = None


def download_files(
    http: PlatformHttp,
    items: list[DownloadRequest],
    context: JobContext,
    *,
    max_parallel: int = DEFAULT_PARALLEL_DOWNLOADS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[Path]:
    """Download every item, ``max_parallel`` at a time, and return their paths in order.

    The first failure cancels the other items and is raised. Files that finished
    stay where they are; each failed or cancelled item leaves no ``.part`` file.
    """
    batch = DownloadBatch(
        http, items, context, max_parallel=max_parallel, max_attempts=max_attempts
    )
    outcomes = batch.run()
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    failures = [error for error in errors if not isinstance(error, JobCancelledError)]
    if failures or errors:
        raise (failures or errors)[0]
    return [outcome.path for outcome in outcomes]


def parallel_limit(value: int) -> int:
    """Return ``value`` clamped to 1..MAX_PARALLEL_DOWNLOADS, logging a clamp."""
    limited = min(MAX_PARALLEL_DOWNLOADS, max(1, int(value)))
    if limited != value:
        log.warning(
            "parallel downloads set to %s; using %d (allowed: 1 to %d)",
            value,
            limited,
            MAX_PARALLEL_DOWNLOADS,
        )
    return limited


class DownloadBatch:
    """Several downloads on worker threads, at most ``max_parallel`` at a time, over
    the shared connection pool of ``http``.

    Cancelling the job's context cancels every item and ``cancel(index)`` cancels
    one. With ``stop_on_error`` (the default) the first failure cancels the rest.
    Progress is reported to the job's context as one sum over all items.
    """

    def __init__(
        self,
        http: PlatformHttp,
        items: list[DownloadRequest],
        context: JobContext,
        *,
        max_parallel: int = DEFAULT_PARALLEL_DOWNLOADS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        stop_on_error: bool = True,
    ):
        self.http = http
        self.items = list(items)
        self.context = context
        self.max_parallel = parallel_limit(max_parallel)
        self.max_attempts = max_attempts
        self.stop_on_error = stop_on_error
        self._contexts = [
            _ItemContext(item.label or item.destination.name) for item in self.items
        ]
        self._progress: list[TransferProgress | None] = [None] * len(self.items)
        self._finished = 0
        self._started = time.monotonic()
        self._last_report = 0.0
        self._lock = threading.Lock()

    def cancel(self, index: int) -> None:
        self._contexts[index].cancel()

    def cancel_all(self) -> None:
        for item_context in self._contexts:
            item_context.cancel()

    def run(self) -> list[DownloadOutcome]:
        """Run every item and return their outcomes in order; raises
        ``JobCancelledError`` when the job itself was cancelled."""
        workers = min(self.max_parallel, max(1, len(self.items)))
        unregister = self.context.on_cancel(self.cancel_all)
        try:
            with ThreadPoolExecutor(
                workers, thread_name_prefix="meshport-download"
            ) as pool:
                futures = [
                    pool.submit(self._download, index)
                    for index in range(len(self.items))
                ]
                outcomes = [future.result() for future in futures]
        finally:
            unregister()
        self.context.raise_if_cancelled()
        return outcomes

    def _download(self, index: int) -> DownloadOutcome:
        item, item_context = self.items[index], self._contexts[index]
        outcome = DownloadOutcome(item)
        try:
            item_context.raise_if_cancelled()
            outcome.path = download_file(
                self.http,
                item.url,
                item.destination,
                item_context,
                check=item.check,
                authenticated=item.authenticated,
                label=item.label,
                max_attempts=self.max_attempts,
                on_progress=lambda progress: self._record(index, progress),
            )
        except MeshportError as error:
            outcome.error = error
            if self.stop_on_error and not isinstance(error, JobCancelledError):
                self.cancel_all()
        except BaseException:
            self.cancel_all()
            raise
        with self._lock:
            self._finished += 1
        return outcome

    def _record(self, index: int, progress: TransferProgress) -> None:
        with self._lock:
            self._progress[index] = progress
            now = time.monotonic()
            if now - self._last_report < PROGRESS_INTERVAL:
                return
            self._last_report = now
            summary = self._summary(now)
            finished = self._finished
        text = f"{finished} of {len(self.items)} files, {describe(summary)}"
        self.context.report_progress(summary.fraction, text)

    def _summary(self, now: float) -> TransferProgress:
        done = sum(progress.done_bytes for progress in self._progress if progress)
        totals = [
            (
                progress.total_bytes
                if progress and progress.total_bytes
                else item.check.size
            )
            for item, progress in zip(self.items, self._progress)
        ]
        total = None if None in totals else sum(totals)
        return transfer_progress(done, done, total, now - self._started)


class _ItemContext:
    """The cancel flag and progress channel of one batch item, used by its
    ``download_file`` in place of the job's context."""

    def __init__(self, label: str):
        self.label = label
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelledError(f"{self.label}: cancelled.")

    def wait(self, seconds: float) -> None:
        if self._event.wait(seconds):
            self.raise_if_cancelled()

    def report_progress(self, fraction: float | None, text: str = "") -> None:
        """Drop per-file reports; the batch reports one sum through ``on_progress``."""

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)
            run_now = self._event.is_set()
        if run_now:
            _run_cancel_callback(callback)

        def unregister() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unregister

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            _run_cancel_callback(callback)


def _run_cancel_callback(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # a cancel hook must never break cancelling
        log.debug("cancel callback failed", exc_info=True)
