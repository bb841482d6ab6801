"""The Status panel's report: health per platform, cache sizes, trust and policy.

``read_status`` runs on a worker, because it reads the audit log, the rate store,
both caches and the policy file, and a studio Redis may sit behind the first three.
``request_refresh`` starts it from a panel's ``draw`` when the shown report is older
than ``state.STATUS_MAX_AGE``.
"""

from __future__ import annotations

import logging
import os
import sqlite3

from ..core.config import Settings
from ..core.errors import MeshportError
from ..core.jobs import JobContext
from ..platforms import registry
from . import assets, runtime, service
from .state import PlatformStatus, StatusReport, status_cache

log = logging.getLogger(__name__)

JOB_LABEL = "Meshport status"


def status_platforms() -> dict[str, str]:
    """Return the id and label of every platform that sends requests, in menu order."""
    return {
        platform_id: service.platform_label(platform_id)
        for platform_id in registry.available_platform_ids()
        if service.needs_network(platform_id)
    }


def request_refresh(context=None) -> bool:
    """Start reading the status on a worker unless a fresh report exists or a read
    is running; returns whether a read started. Safe to call from ``draw``."""
    if not status_cache.needs_refresh():
        return False
    try:
        settings = service.settings_from_preferences(context, read_keys=False)
    except MeshportError as error:
        log.warning("status not read: %s", error.message)
        return False
    labels = status_platforms()
    status_cache.begin_refresh()

    def read(job_context: JobContext) -> StatusReport | None:
        return read_status_safely(service.with_stored_keys(settings), labels)

    def finish(job, report) -> None:
        status_cache.finish_refresh(report)

    def fail(job, error) -> None:
        status_cache.finish_refresh(None)

    runtime.get_runner().submit(JOB_LABEL, read, on_done=finish, on_error=fail)
    return True


def is_status_job(job) -> bool:
    return job.label == JOB_LABEL


def read_status_safely(settings: Settings, labels: dict[str, str]) -> StatusReport | None:
    """Return ``read_status``, or None after logging an unexpected failure, so the
    cache never stays marked as refreshing."""
    try:
        return read_status(settings, labels)
    except Exception:
        log.exception("reading the Meshport status failed")
        return None


def read_status(settings: Settings, labels: dict[str, str]) -> StatusReport:
    """Read the status of the platforms in ``labels`` (id to label). Any part that
    cannot be read is reported in its line or in ``problems`` instead of raising."""
    from ..core import health

    problems: list[str] = []
    snapshot = health.snapshot(settings)
    platforms = tuple(
        platform_status(settings, platform_id, label, snapshot["platforms"].get(platform_id, {}))
        for platform_id, label in labels.items()
    )
    response_cache = snapshot.get("cache") or {}
    if "error" in response_cache:
        problems.append(f"Response cache: {response_cache['error']}")
    asset_bytes = _asset_cache_bytes(settings, problems)
    return StatusReport(
        platforms=platforms,
        policy_line=_policy_line(),
        trust_line=_trust_line(settings),
        backend_line=backend_line(settings),
        response_cache_bytes=response_cache.get("bytes"),
        response_cache_entries=response_cache.get("entries"),
        asset_cache_bytes=asset_bytes,
        problems=tuple(problems),
    )


def platform_status(
    settings: Settings, platform_id: str, label: str, health: dict
) -> PlatformStatus:
    """Turn one platform's part of ``health.snapshot`` into the panel's lines."""
    from ..core.health import status_text

    budget = health.get("budget") or {}
    blocked = False
    if "error" in budget:
        budget_line = f"{label}: request budget not read: {budget['error']}"
    else:
        blocked = any(resource.get("wait_s", 0) > 0 for resource in budget.values())
        budget_line = _guarded(lambda: status_text(settings, platform_id, label))
    return PlatformStatus(
        platform_id=platform_id,
        label=label,
        health_line=health_line(label, health),
        budget_line=budget_line,
        blocked=blocked,
        last_error=last_error_line(health.get("last_error")),
    )


def health_line(label: str, health: dict) -> str:
    """Return "Sketchfab: 40 requests, 97.5% succeeded, median 120 ms, p95 340 ms"."""
    sent = health.get("requests") or 0
    if not sent:
        return f"{label}: no requests sent yet"
    rate = health.get("success_rate") or 0.0
    latency = health.get("latency_ms") or {}
    return (
        f"{label}: {sent} request{'s' if sent != 1 else ''}, {rate * 100:.1f}% succeeded, "
        f"median {_milliseconds(latency.get('median'))}, p95 {_milliseconds(latency.get('p95'))}"
    )


def last_error_line(error: dict | None) -> str:
    """Return "Last error: HTTP 503 at <time> (<URL>)", or "" when there was none."""
    if not error:
        return ""
    cause = f"HTTP {error['status']}" if error.get("status") else error.get("error") or "failed"
    line = f"Last error: {cause} at {error.get('time') or 'an unknown time'}"
    if error.get("url"):
        line += f" ({error['url']})"
    return line


def backend_line(settings: Settings) -> str:
    """Return where response cache and rate budgets live; a Redis URL is shown redacted."""
    from ..core import studio
    from ..core.redact import redact_url

    url = studio.redis_url(settings)
    if not url:
        return "Response cache and rate budgets: SQLite in this computer's user folder."
    source = (
        studio.REDIS_URL_VARIABLE
        if os.environ.get(studio.REDIS_URL_VARIABLE, "").strip()
        else "the preference"
    )
    return f"Response cache and rate budgets: studio Redis {redact_url(url)} (from {source})."


def _policy_line() -> str:
    from ..core import policy

    return policy.describe()


def _trust_line(settings: Settings) -> str:
    from ..core.tls import choose_trust

    try:
        return f"TLS trust: {choose_trust(settings.ca_bundle).description}."
    except MeshportError as error:
        return f"TLS trust: {error.message}"


def _asset_cache_bytes(settings: Settings, problems: list[str]) -> int | None:
    try:
        return assets.cache_size(settings)
    except (OSError, sqlite3.Error, MeshportError) as error:
        problems.append(f"Asset cache: its size could not be read ({error}).")
        return None


def _milliseconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _guarded(build) -> str:
    try:
        return build()
    except MeshportError as error:
        return error.message
