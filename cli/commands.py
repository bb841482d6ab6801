"""The ``search``, ``import`` and ``status`` commands.

Each runs the same service functions as the sidebar's operators: jobs go to the
process's one ``JobRunner``, and since timers never fire outside Blender's window,
the command drives the runner's drain itself until the job ends.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..core.archives import find_model_file
from ..core.config import env_name
from ..core.errors import JobCancelledError, MeshportError, NotFoundError
from ..core.models import DownloadOptions, SearchQuery
from .arguments import CommandLine, UsageError
from .output import Console, import_document, print_import, print_search, search_document
from .process import new_empty_file, save_blend
from .sources import FileSource, PlatformSource, parse_source

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05


def available_platforms() -> tuple[str, ...]:
    from ..platforms import registry

    return registry.available_platform_ids()


def check_platform(platform_id: str) -> str:
    available = available_platforms()
    if platform_id not in available:
        raise UsageError(f"unknown platform '{platform_id}'. Use one of: {', '.join(available)}.")
    return platform_id


def check_usage(command_line: CommandLine) -> None:
    """Raise ``UsageError`` for a command line that cannot run, before Blender starts."""
    arguments = command_line.arguments
    if arguments.command == "search":
        check_platform(arguments.platform)
    elif arguments.command == "import":
        check_import_arguments(arguments)


# Running jobs


def wait_for_job(console: Console, runner, start) -> object:
    """Start a job with ``start(on_done, on_error)``, drive the runner until it ends,
    and return its result. Progress text goes to standard error.

    Raises the job's ``MeshportError``; on Ctrl+C, cancels the job and re-raises.
    """
    outcome: dict = {}

    def on_done(job, result):
        outcome["result"] = result

    def on_error(job, error):
        outcome["error"] = error

    job = start(on_done, on_error)
    last_progress = ""
    try:
        while not job.finished:
            if runner.drain(max_seconds=0.05) == 0:
                time.sleep(POLL_SECONDS)
            if job.progress_text and job.progress_text != last_progress:
                last_progress = job.progress_text
                console.note(last_progress)
        runner.drain(max_seconds=1.0)
    except KeyboardInterrupt:
        job.cancel()
        raise

    error = outcome.get("error") or job.error
    if job.state == "done" and error is None:
        return outcome.get("result")
    if error is None:
        error = JobCancelledError(f"{job.label}: cancelled.")
    raise error


# search


def run_search(command_line: CommandLine, console: Console) -> int:
    from ..blender import runtime, service

    arguments = command_line.arguments
    platform_id = check_platform(arguments.platform)
    settings = service.settings_for_command_line(offline=command_line.offline)
    query = SearchQuery(
        text=arguments.query,
        filters=search_filters(arguments),
        page_token=arguments.page_token,
        count=arguments.count,
    )
    runner = runtime.get_runner()
    page = wait_for_job(
        console,
        runner,
        lambda on_done, on_error: service.start_search(
            runner, settings, platform_id, query, on_done=on_done, on_error=on_error
        ),
    )
    if command_line.json:
        console.document(search_document(platform_id, arguments.query, page))
    else:
        print_search(console, platform_id, page)
    return 0


def search_filters(arguments) -> dict:
    """Return the platform filters the options set; options left out are not sent."""
    values = {
        "categories": arguments.categories,
        "licenses": arguments.licenses,
        "animated": arguments.animated,
        "rigged": arguments.rigged,
        "staffpicked": arguments.staff_picked,
        "pbr_type": arguments.pbr_type,
        "min_face_count": arguments.min_faces,
        "max_face_count": arguments.max_faces,
        "sort_by": arguments.sort_by,
        "authors": arguments.authors,
        "repo": arguments.repo,
        "ref": arguments.ref,
        "format": arguments.file_format,
    }
    return {name: value for name, value in values.items() if value is not None}


# import


def run_import(command_line: CommandLine, console: Console) -> int:
    from ..blender import runtime, service
    from ..blender.importer import ImportOptions

    arguments = command_line.arguments
    out, sources = check_import_arguments(arguments)
    download_options = DownloadOptions(
        file_format=arguments.file_format, resolution=arguments.resolution
    )
    settings = service.settings_for_command_line(offline=command_line.offline)
    runner = runtime.get_runner()
    new_empty_file()
    results = []
    for source in sources:
        console.note(f"importing {source}")
        if isinstance(source, FileSource):
            result = service.import_file(check_file(source.path), ImportOptions())
        else:
            result = import_from_platform(
                console, runner, service, settings, source, download_options, ImportOptions()
            )
        results.append(result)
        if not command_line.json:
            print_import(console, result)

    saved = save_blend(out)
    if command_line.json:
        console.document(import_document(saved, results))
    else:
        console.line(f"Saved {saved}")
    return 0


def check_import_arguments(arguments) -> tuple[Path, list[PlatformSource | FileSource]]:
    out = check_out_path(arguments.out)
    sources = [parse_source(text, available_platforms()) for text in arguments.sources]
    if all(isinstance(source, FileSource) for source in sources) and (
        arguments.file_format or arguments.resolution
    ):
        raise UsageError("--format and --resolution apply to PLATFORM:ID sources only")
    return out, sources


def import_from_platform(
    console, runner, service, settings, source: PlatformSource, download_options, import_options
):
    return wait_for_job(
        console,
        runner,
        lambda on_done, on_error: service.start_import(
            runner,
            settings,
            source.platform_id,
            source.asset_text,
            download_options=download_options,
            import_options=import_options,
            on_done=on_done,
            on_error=on_error,
        ),
    )


def check_out_path(text: str) -> Path:
    out = Path(text).expanduser()
    if out.suffix.lower() != ".blend":
        raise UsageError(f"--out '{text}' does not end in .blend. Name the file like scene.blend")
    if out.is_dir():
        raise UsageError(f"--out '{text}' is a folder. Name a .blend file inside it")
    return out


def check_file(path: Path) -> Path:
    """Return the file to import: ``path`` itself, or for a folder (such as an
    unpacked glTF with its .bin and textures) the one model file inside it."""
    if not path.exists():
        raise NotFoundError(f"{path}: no such file. Check the path and try again.")
    if path.is_dir():
        return find_model_file(path)
    return path


# status


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
    """Return the request health per platform, or None when it cannot be read."""
    try:
        from ..core import health
    except ImportError:
        return None
    try:
        return health.snapshot(settings)
    except MeshportError as error:
        log.warning("request health unavailable: %s", error.message)
        return {"error": error.message}


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
