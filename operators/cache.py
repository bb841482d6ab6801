"""Clear the response cache and the asset cache from the preferences.

Both run on the main thread: each is a delete in a local SQLite file and folder.
With a studio Redis set, clearing the response cache deletes the shared entries of
every machine. Neither runs while a job does, because a job may be writing to the
cache it would clear.
"""

from __future__ import annotations

import logging
import sqlite3

import bpy

from ..blender import assets, runtime, service, status
from ..blender.state import status_cache
from ..core.errors import MeshportError
from .common import report_failure

log = logging.getLogger(__name__)


def running_jobs() -> list:
    """Return the jobs that may use a cache, which excludes the status reader."""
    return [job for job in runtime.get_runner().active_jobs() if not status.is_status_job(job)]


class ClearCacheOperator:
    """The poll and the steps both clear operators share; ``clear`` does the work."""

    bl_options = {"INTERNAL"}
    cache_name = ""

    @classmethod
    def poll(cls, context):
        if running_jobs():
            cls.poll_message_set("A search or download is running; wait for it or cancel it")
            return False
        return True

    def execute(self, context):
        try:
            settings = service.settings_from_preferences(context, read_keys=False)
            self.clear(settings)
        except MeshportError as error:
            return report_failure(self, error)
        except (OSError, sqlite3.Error) as error:
            log.exception("clearing the %s failed", self.cache_name)
            self.report({"ERROR"}, f"The {self.cache_name} could not be cleared: {error}.")
            return {"CANCELLED"}
        status_cache.invalidate()
        self.report({"INFO"}, f"The {self.cache_name} is empty.")
        return {"FINISHED"}

    def clear(self, settings) -> None:
        raise NotImplementedError


class MESHPORT_OT_clear_response_cache(ClearCacheOperator, bpy.types.Operator):
    bl_idname = "meshport.clear_response_cache"
    bl_label = "Clear Response Cache"
    bl_description = (
        "Delete every stored API response, so the next searches ask the platforms again"
    )
    cache_name = "response cache"

    def clear(self, settings) -> None:
        from ..core import response_cache

        response_cache.clear(settings)


class MESHPORT_OT_clear_asset_cache(ClearCacheOperator, bpy.types.Operator):
    bl_idname = "meshport.clear_asset_cache"
    bl_label = "Clear Asset Cache"
    bl_description = "Delete every downloaded asset kept for reuse; imported scenes keep theirs"
    cache_name = "asset cache"

    def clear(self, settings) -> None:
        assets.clear_cache(settings)


classes = (MESHPORT_OT_clear_response_cache, MESHPORT_OT_clear_asset_cache)
