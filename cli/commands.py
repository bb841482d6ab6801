"""The ``search`` and ``import`` commands.

Each runs the same service functions as the sidebar's operators: jobs go to the
process's one ``JobRunner``, and since timers never fire outside Blender's window,
the command drives the runner's drain itself until the job ends.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..core.errors import JobCancelledError, MeshportError
from ..core.models import DownloadOptions, SearchQuery
from . import interrupts
from .arguments import CommandLine, UsageError
from .files import import_local_file, is_unity_package, unity_package_source
from .output import (
    Console,
    import_document,
    print_import,
    print_search,
    search_document,
    search_notices,
)
from .process import new_empty_file, save_blend
from .sources import FileSource, PlatformSource, parse_source
from .tokens import check_page_token

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
        if arguments.page_token is not None:
            check_page_token(arguments.platform, arguments.page_token)
    elif arguments.command == "import":
        check_import_arguments(arguments)


# Running jobs


def wait_for_job(console: Console, runner, start) -> object:
    """Start a job with ``start(on_done, on_error)``, drive the runner until it ends,
    and return its result. Progress text goes to standard error.

    Raises the job's ``MeshportError``; on Ctrl+C or SIGTERM, cancels the job and
    raises ``KeyboardInterrupt``.
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
            interrupts.check()
            if runner.drain(max_seconds=0.05) == 0:
                time.sleep(POLL_SECONDS)
            if job.progress_text and job.progress_text != last_progress:
                last_progress = job.progress_text
                console.note(last_progress)
        runner.drain(max_seconds=1.0)
        interrupts.check()
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
    notices = search_notices(page, platform_notice(platform_id))
    if command_line.json:
        console.document(search_document(platform_id, arguments.query, page, notices))
    else:
        print_search(console, platform_id, page, notices)
    return 0


def platform_notice(platform_id: str) -> str:
    """Return the sentence the sidebar shows with every result of the platform."""
    from ..platforms import registry

    return getattr(registry.client_class(platform_id), "notice", "")


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

    arguments = command_line.arguments
    out, sources = check_import_arguments(arguments)
    download_options = DownloadOptions(
        file_format=arguments.file_format, resolution=arguments.resolution
    )
    settings = service.settings_for_command_line(offline=command_line.offline)
    runner = runtime.get_runner()
    new_empty_file()
    results = []
    for number, source in enumerate(sources, start=1):
        interrupts.check()
        console.note(f"importing {source}")
        try:
            result = import_source(console, runner, settings, source, download_options)
        except MeshportError as error:
            interrupts.check()
            if len(sources) > 1:
                _say_nothing_saved(error, out, sources, number)
            raise
        results.append(result)

    interrupts.check()
    saved = save_blend(out)
    if command_line.json:
        console.document(import_document(saved, results))
        return 0
    for result in results:
        print_import(console, result)
    console.line(f"Saved {saved}")
    return 0


def import_source(console, runner, settings, source, download_options):
    """Import one source into the open scene and return its ``ImportResult``."""
    from ..blender import service
    from ..blender.importer import ImportOptions

    if isinstance(source, PlatformSource):
        return import_from_platform(
            console, runner, service, settings, source, download_options, ImportOptions()
        )
    if is_unity_package(source):
        package_settings, package_source = unity_package_source(source, settings)
        return import_from_platform(
            console,
            runner,
            service,
            package_settings,
            package_source,
            DownloadOptions(),
            ImportOptions(),
        )
    return import_local_file(source.path, ImportOptions())


def _say_nothing_saved(error: MeshportError, out: Path, sources: list, number: int) -> None:
    """Start the message of ``error`` by stating that ``out`` was not written, which
    source failed, and which sources were imported but not saved."""
    failed = sources[number - 1]
    text = (
        f"Nothing was saved to {out}, because source {number} of {len(sources)} "
        f"('{failed}') failed."
    )
    if number > 1:
        imported = ", ".join(f"'{source}'" for source in sources[: number - 1])
        text += f" Imported before it but not saved: {imported}."
    # The error is re-raised as it is, so its class and fields reach the exit status
    # and the JSON document unchanged.
    error.message = f"{text} {error.message}"
    error.args = (error.message,)


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
    """Return the --out path, or raise ``UsageError`` unless it names a .blend file in
    an existing, writable folder; nothing is created."""
    out = Path(text).expanduser()
    if out.suffix.lower() != ".blend":
        raise UsageError(f"--out '{text}' does not end in .blend. Name the file like scene.blend")
    if out.is_dir():
        raise UsageError(f"--out '{text}' is a folder. Name a .blend file inside it")
    folder = out.absolute().parent
    if not folder.exists():
        raise UsageError(
            f"--out '{text}': the folder {folder} does not exist. Create it first, or "
            "choose a file in an existing folder"
        )
    if not folder.is_dir():
        raise UsageError(
            f"--out '{text}': {folder} is a file, not a folder. Choose a file in a folder"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"--out '{text}': the folder {folder} is not writable. Choose a file in a "
            "folder you can write to"
        )
    return out
