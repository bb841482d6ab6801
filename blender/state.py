"""The sidebar's state: the phase of the current job, results, progress and errors.

Plain Python with no ``bpy``: operators and job callbacks change the state on the
main thread, and the panels read it when Blender redraws them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

from ..core.errors import (
    AuthenticationError,
    JobCancelledError,
    MeshportError,
    NetworkError,
    OfflineError,
    PlatformUnavailableError,
    RateLimitedError,
)
from ..core.models import AccountInfo, Asset, SearchPage, SearchQuery

log = logging.getLogger(__name__)

IDLE = "idle"
SEARCHING = "searching"
DOWNLOADING = "downloading"
IMPORTING = "importing"
ERROR = "error"
OFFLINE = "offline"
PHASES = (IDLE, SEARCHING, DOWNLOADING, IMPORTING, ERROR, OFFLINE)
BUSY_PHASES = (SEARCHING, DOWNLOADING, IMPORTING)

# Outcomes of a key check, as the preferences show them.
KEY_CHECKING = "checking"
KEY_VALID = "valid"
KEY_INVALID = "invalid"
KEY_NETWORK_ERROR = "network"
KEY_RATE_LIMITED = "rate_limited"
KEY_OFFLINE = "offline"
KEY_FAILED = "failed"

# Seconds a status report is shown before drawing requests a new one, so that
# redraws never read the audit log, rate store or caches on the main thread.
STATUS_MAX_AGE = 5.0


@dataclass
class KeyCheck:
    """The result of the last key validation for one platform."""

    outcome: str
    text: str


def key_check_passed(account: AccountInfo) -> KeyCheck:
    plan = f" ({account.plan} plan)" if account.plan else ""
    return KeyCheck(KEY_VALID, f"Valid: signed in as {account.username}{plan}.")


def key_check_failed(error: MeshportError) -> KeyCheck:
    """Sort a failed key check into invalid, network error, rate limited, offline
    or another failure, keeping the error's own sentence."""
    if isinstance(error, AuthenticationError):
        return KeyCheck(KEY_INVALID, f"Invalid: {error.message}")
    if isinstance(error, RateLimitedError):
        return KeyCheck(KEY_RATE_LIMITED, f"Not checked, rate limited: {error.message}")
    if isinstance(error, OfflineError):
        return KeyCheck(KEY_OFFLINE, f"Not checked: {error.message}")
    if isinstance(error, (NetworkError, PlatformUnavailableError)):
        return KeyCheck(KEY_NETWORK_ERROR, f"Not checked, network error: {error.message}")
    if isinstance(error, JobCancelledError):
        return KeyCheck(KEY_FAILED, "Not checked: the check was cancelled.")
    return KeyCheck(KEY_FAILED, f"Not checked: {error.message}")


@dataclass
class PanelState:
    """The sidebar's state. ``key_stored`` caches whether the keyring contains a key
    per platform, so drawing calls the keyring once per platform at most."""

    phase: str = IDLE
    job_id: int | None = None
    platform_id: str = ""
    query: SearchQuery | None = None
    results: list[Asset] = field(default_factory=list)
    next_page: str | None = None
    page_notice: str = ""
    progress: float | None = None
    progress_text: str = ""
    last_error: str = ""
    status_text: str = ""
    rate_limit_text: str = ""
    key_stored: dict[str, bool] = field(default_factory=dict)
    key_checks: dict[str, KeyCheck] = field(default_factory=dict)
    key_store_name: str = ""

    @property
    def busy(self) -> bool:
        return self.phase in BUSY_PHASES

    def start(self, phase: str, job_id: int | None, text: str) -> None:
        """Enter a busy phase for the job ``job_id``."""
        self.phase = phase
        self.job_id = job_id
        self.progress = None
        self.progress_text = text
        self.last_error = ""
        self.status_text = ""

    def show_progress(self, fraction: float | None, text: str) -> None:
        self.progress = fraction
        if text:
            self.progress_text = text

    def show_results(
        self, platform_id: str, query: SearchQuery, page: SearchPage, *, append: bool
    ) -> None:
        """Show a page of results, below the earlier pages when ``append`` is set."""
        if append and platform_id == self.platform_id:
            self.results = self.results + list(page.results)
        else:
            self.results = list(page.results)
        self.platform_id = platform_id
        self.query = query
        self.next_page = page.next_page
        self.page_notice = page.notice
        count = len(self.results)
        self.finish(f"{count} result{'s' if count != 1 else ''}.")

    def finish(self, text: str = "") -> None:
        """Return to idle after a job, with ``text`` as the status line."""
        self.phase = IDLE
        self.job_id = None
        self.progress = None
        self.progress_text = ""
        self.status_text = text

    def show_error(self, error: MeshportError) -> None:
        """Show a failed job's message, or return to idle for a cancelled job."""
        self.job_id = None
        self.progress = None
        self.progress_text = ""
        if isinstance(error, JobCancelledError):
            self.finish("Cancelled.")
            return
        self.phase = OFFLINE if isinstance(error, OfflineError) else ERROR
        self.last_error = error.message
        if isinstance(error, RateLimitedError):
            self.rate_limit_text = error.message

    def clear_error(self) -> None:
        if self.phase in (ERROR, OFFLINE):
            self.phase = IDLE
        self.last_error = ""

    def reset(self) -> None:
        """Forget jobs, results and errors, for example when another .blend loads.
        What is known about stored keys stays."""
        stored, checks, store_name = self.key_stored, self.key_checks, self.key_store_name
        self.__init__()
        self.key_stored, self.key_checks, self.key_store_name = stored, checks, store_name


@dataclass(frozen=True)
class PlatformStatus:
    """One platform's lines in the Status panel. ``blocked`` is True while a rate
    limit holds back every request, and ``budget_line`` then gives the wait."""

    platform_id: str
    label: str
    health_line: str
    budget_line: str = ""
    blocked: bool = False
    last_error: str = ""


@dataclass(frozen=True)
class StatusReport:
    """What the Status panel and the cache rows of the preferences show, read on a
    worker. ``read_at`` is a ``time.monotonic()`` reading. A size is None when it
    could not be read, and ``problems`` then contains the reason."""

    platforms: tuple[PlatformStatus, ...]
    policy_line: str
    trust_line: str
    backend_line: str
    response_cache_bytes: int | None
    response_cache_entries: int | None
    asset_cache_bytes: int | None
    problems: tuple[str, ...] = ()
    read_at: float = field(default_factory=time.monotonic)

    def platform(self, platform_id: str) -> PlatformStatus | None:
        for status in self.platforms:
            if status.platform_id == platform_id:
                return status
        return None


@dataclass
class StatusCache:
    """The latest status report, and whether a worker is reading a new one."""

    report: StatusReport | None = None
    refreshing: bool = False

    def needs_refresh(self, now: float | None = None) -> bool:
        if self.refreshing:
            return False
        if self.report is None:
            return True
        now = time.monotonic() if now is None else now
        return now - self.report.read_at >= STATUS_MAX_AGE

    def begin_refresh(self) -> None:
        self.refreshing = True

    def finish_refresh(self, report: StatusReport | None) -> None:
        """Keep ``report``; None (a failed read) keeps the previous report."""
        self.refreshing = False
        if report is not None:
            self.report = report

    def invalidate(self) -> None:
        """Make the next draw read the status again, for example after a cache was cleared."""
        if self.report is not None:
            self.report = replace(self.report, read_at=float("-inf"))

    def blocked_line(self, platform_id: str) -> str:
        """Return the rate-limit line when the platform is blocked, else ""."""
        status = self.report.platform(platform_id) if self.report is not None else None
        if status is None or not status.blocked:
            return ""
        return status.budget_line


# The one state of this Blender session.
panel_state = PanelState()
status_cache = StatusCache()
