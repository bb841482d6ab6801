"""The ``status`` command: settings and request health of each registered platform."""

from __future__ import annotations

import logging
import os

from ..core.config import env_name
from ..core.errors import MeshportError
from .arguments import CommandLine
from .commands import available_platforms
from .output import Console

log = logging.getLogger(__name__)

# Health fields about the request budget, left out for a platform that sends no request.
BUDGET_FIELDS = ("budget", "rate_limit")


def run_status(command_line: CommandLine, console: Console) -> int:
    from ..blender import service

    settings = service.settings_for_command_line(offline=command_line.offline)
    platforms = {
        platform_id: platform_status(settings, platform_id) for platform_id in available_platforms()
    }
    document = {
        "online_access": settings.online_access,
        "data_dir": str(settings.data_dir),
        "download_dir": str(settings.download_dir),
        "platforms": platforms,
        "health": health_snapshot(settings),
    }
    if command_line.json:
        console.document(document)
    else:
        print_status(console, document)
    return 0


def platform_status(settings, platform_id: str) -> dict:
    from ..platforms import registry

    platform = settings.platforms.get(platform_id)
    client = registry.client_class(platform_id)
    needs_key = bool(getattr(client, "needs_key", False) or getattr(client, "key_optional", False))
    if not needs_key:
        key_source = "not used"
    elif os.environ.get(env_name(platform_id, "KEY"), "").strip():
        key_source = f"environment ({env_name(platform_id, 'KEY')})"
    elif platform is not None and platform.key:
        key_source = "keyring"
    else:
        key_source = "none"
    return {
        "label": getattr(client, "label", platform_id),
        "base_url": platform.base_url if platform is not None else "",
        "key": key_source,
    }


def health_snapshot(settings) -> dict | None:
    """Return the request health of the registered platforms, or None when it cannot
    be read. Platforms that send no request get no budget."""
    try:
        from ..core import health
    except ImportError:
        return None
    try:
        snapshot = health.snapshot(settings)
    except MeshportError as error:
        log.warning("request health unavailable: %s", error.message)
        return {"error": error.message}
    if isinstance(snapshot.get("platforms"), dict):
        snapshot["platforms"] = registered_health(snapshot["platforms"])
    return snapshot


def registered_health(records: dict) -> dict:
    """Keep the records of registered platforms, in registry order: ``core.health``
    also reports the ids ``core.config`` reserves for platforms not connected."""
    from ..blender import service

    registered = {}
    for platform_id in available_platforms():
        record = records.get(platform_id)
        if not isinstance(record, dict):
            continue
        if not service.needs_network(platform_id):
            record = {name: value for name, value in record.items() if name not in BUDGET_FIELDS}
        registered[platform_id] = record
    return registered


def print_status(console: Console, document: dict) -> None:
    console.line(f"Online access: {'on' if document['online_access'] else 'off'}")
    console.line(f"Data folder:   {document['data_dir']}")
    health = (document.get("health") or {}).get("platforms", {})
    for platform_id, status in document["platforms"].items():
        console.line()
        console.line(f"{status['label']} ({platform_id})")
        if status["base_url"]:
            console.line(f"  base URL: {status['base_url']}")
        console.line(f"  key:      {status['key']}")
        record = health.get(platform_id)
        if record:
            rate = record.get("success_rate")
            share = "-" if rate is None else f"{rate:.0%}"
            console.line(f"  requests: {record.get('requests', 0)} (success {share})")
            budget = record.get("rate_limit")
            if isinstance(budget, dict):
                budget = f"unavailable ({budget.get('error')})"
            if budget:
                console.line(f"  budget:   {budget}")
            if record.get("last_error"):
                last = record["last_error"]
                console.line(
                    f"  last error: HTTP {last.get('status')} {last.get('error') or ''}".rstrip()
                )
