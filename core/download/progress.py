"""Progress of a transfer: reports throttled to one per interval, and the progress line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..models import TransferProgress

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.25  # seconds between two progress reports of one transfer

ProgressCallback = Callable[[TransferProgress], None]


class ProgressMeter:
    """Turns byte counts into at most one ``TransferProgress`` report per interval."""

    def __init__(
        self, context, label, on_progress, start_offset: int, total: int | None
    ):
        self.context = context
        self.label = label
        self.on_progress = on_progress
        self.start_offset = start_offset
        self.total = total
        self.started = time.monotonic()
        self.last_report = 0.0

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_report < PROGRESS_INTERVAL:
            return
        self.last_report = now
        progress = transfer_progress(
            done - self.start_offset, done, self.total, now - self.started
        )
        self.context.report_progress(
            progress.fraction, f"{self.label}: {describe(progress)}"
        )
        if self.on_progress is not None:
            self.on_progress(progress)


def transfer_progress(
    moved: int, done: int, total: int | None, elapsed: float
) -> TransferProgress:
    """Return the progress after ``moved`` bytes in ``elapsed`` seconds of this
    attempt, of which ``done`` bytes are in the file."""
    speed = moved / elapsed if elapsed > 0 else 0.0
    seconds_left = (total - done) / speed if total and speed > 0 else None
    return TransferProgress(done, total, speed, seconds_left)


def describe(progress: TransferProgress) -> str:
    """Return a progress line such as "12.0 of 48.0 MiB, 3.1 MiB/s, 12 s left"."""
    done_mib = progress.done_bytes / 2**20
    if progress.total_bytes:
        text = f"{done_mib:.1f} of {progress.total_bytes / 2**20:.1f} MiB"
    else:
        text = f"{done_mib:.1f} MiB"
    if progress.bytes_per_second > 0:
        text += f", {progress.bytes_per_second / 2**20:.1f} MiB/s"
    if progress.seconds_left is not None:
        text += f", {progress.seconds_left:.0f} s left"
    return text
