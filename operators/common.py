"""Shared steps of the operators: reporting a failure and following a job in the
sidebar state."""

from __future__ import annotations

import logging

import bpy

from ..blender import runtime, service
from ..blender.state import panel_state
from ..core.config import Settings
from ..core.errors import MeshportError

log = logging.getLogger(__name__)


def report_failure(operator: bpy.types.Operator, error: MeshportError) -> set[str]:
    """Report ``error`` in one sentence, show it in the sidebar and cancel the operator.

    The traceback goes to the log only.
    """
    log.info("%s failed: %s", operator.bl_idname, error.message, exc_info=error)
    panel_state.show_error(error)
    operator.report({"ERROR"}, error.message)
    return {"CANCELLED"}


def is_current(job) -> bool:
    """Return whether ``job`` is the one the sidebar follows. Callbacks of a job that
    was replaced or forgotten (another file loaded) change nothing."""
    return panel_state.job_id == job.job_id


def on_job_progress(job) -> None:
    if is_current(job):
        panel_state.show_progress(job.progress, job.progress_text)


def job_callbacks(settings: Settings, platform_id: str, show_result):
    """Return ``(on_done, on_error)`` for a job the sidebar follows.

    ``show_result(job, result)`` runs when the job is still the current one. Either
    way, the rate-limit line is read again afterwards.
    """

    def on_done(job, result) -> None:
        if is_current(job):
            show_result(job, result)
        refresh_rate_limit_text(settings, platform_id)

    def on_error(job, error: MeshportError) -> None:
        if is_current(job):
            panel_state.show_error(error)
        refresh_rate_limit_text(settings, platform_id)

    return on_done, on_error


def refresh_rate_limit_text(settings: Settings, platform_id: str) -> None:
    """Read the platform's request budget on a worker and show it in the sidebar,
    such as "Sketchfab: 990 of 1000 requests left per hour"."""
    if not service.needs_network(platform_id):
        panel_state.rate_limit_text = ""
        return
    label = service.platform_label(platform_id)

    def read_budget(context) -> str:
        from ..core import health

        return health.status_text(settings, platform_id, label)

    def show(job, text: str) -> None:
        panel_state.rate_limit_text = text

    runtime.get_runner().submit(
        f"{label} request budget", read_budget, platform=platform_id, on_done=show
    )


def platform_property(description: str):
    """Return the hidden ``platform`` property of an operator that acts on one
    platform; ``description`` states what the operator does with it."""
    return bpy.props.StringProperty(
        name="Platform",
        description=description,
        options={"HIDDEN", "SKIP_SAVE"},
    )
