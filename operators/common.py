"""Shared steps of the operators: reporting a failure and following a job in the
sidebar state."""

from __future__ import annotations

import logging

import bpy

from ..blender.state import panel_state
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
    """Return whether ``job`` is the one the sidebar follows; callbacks of a job that
    was replaced or forgotten (another file loaded) change nothing."""
    return panel_state.job_id == job.job_id


def on_job_progress(job) -> None:
    if is_current(job):
        panel_state.show_progress(job.progress, job.progress_text)


def on_job_error(job, error: MeshportError) -> None:
    if is_current(job):
        panel_state.show_error(error)
