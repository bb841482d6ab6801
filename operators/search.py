"""Search the chosen platform, and fetch the next page of results."""

from __future__ import annotations

import dataclasses
import functools
import logging

import bpy

from ..blender import runtime, service
from ..blender.state import SEARCHING, panel_state
from ..core.errors import MeshportError
from ..core.models import SearchQuery
from .common import job_callbacks, on_job_progress, report_failure

log = logging.getLogger(__name__)


def _show_page(platform_id: str, query: SearchQuery, append: bool, job, page) -> None:
    panel_state.show_results(platform_id, query, page, append=append)


def start_search(operator, context, platform_id: str, query: SearchQuery, *, append: bool):
    """Start the search job, show it in the sidebar and return the operator result."""
    try:
        settings = service.settings_from_preferences(context, platform_id=platform_id)
        show_page = functools.partial(_show_page, platform_id, query, append)
        on_done, on_error = job_callbacks(settings, platform_id, show_page)
        job = service.start_search(
            runtime.get_runner(),
            settings,
            platform_id,
            query,
            on_done=on_done,
            on_error=on_error,
            on_progress=on_job_progress,
        )
    except MeshportError as error:
        return report_failure(operator, error)
    searched_for = f"'{query.text}'" if query.text else "everything"
    panel_state.start(SEARCHING, job.job_id, f"Searching for {searched_for}")
    return {"FINISHED"}


class MESHPORT_OT_search(bpy.types.Operator):
    bl_idname = "meshport.search"
    bl_label = "Search"
    bl_description = "Search the chosen platform for the words in the search field"

    @classmethod
    def poll(cls, context):
        if panel_state.busy:
            cls.poll_message_set("A search or download is running; wait for it or cancel it")
            return False
        return True

    def execute(self, context):
        properties = context.window_manager.meshport
        query = SearchQuery(text=properties.query.strip())
        return start_search(self, context, properties.platform, query, append=False)


class MESHPORT_OT_next_page(bpy.types.Operator):
    bl_idname = "meshport.next_page"
    bl_label = "More Results"
    bl_description = "Fetch the next page of results and add it to the list"

    @classmethod
    def poll(cls, context):
        if panel_state.busy:
            cls.poll_message_set("A search or download is running; wait for it or cancel it")
            return False
        if not panel_state.next_page or panel_state.query is None:
            cls.poll_message_set("There are no more results")
            return False
        return True

    def execute(self, context):
        query = dataclasses.replace(panel_state.query, page_token=panel_state.next_page)
        return start_search(self, context, panel_state.platform_id, query, append=True)


classes = (MESHPORT_OT_search, MESHPORT_OT_next_page)
