"""The sidebar's state: the phase of the current job, results, progress and errors.

Plain Python with no ``bpy``: operators and job callbacks change the state on the
main thread, and the panels read it when Blender redraws them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

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


# The one state of this Blender session.
panel_state = PanelState()
