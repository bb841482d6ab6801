"""Entry point of ``bin/meshport``: parse, run one command, map the outcome to an exit
status.

Exit status: 0 success; 1 failure (the message on standard error, and as
``{"error": {"kind", "message"}}`` with ``--json``); 2 bad usage, which includes
argparse errors and invalid option values; 130 when interrupted (Ctrl+C or SIGTERM).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ..core.errors import ConfigurationError, MeshportError
from . import interrupts
from .arguments import UsageError, parse, split_global_flags
from .output import Console

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# The sentence with which messages of ``core.jobs`` and the ``blender`` package point
# at the log, without its path.
LOG_PHRASE = "The Meshport log has the details."


def main(argv: list[str] | None = None) -> int:
    # bin/meshport blocked these signals already; a caller that did not gets the same.
    interrupts.block()
    interrupts.install()
    argv = list(sys.argv[1:] if argv is None else argv)
    console = Console(json_mode="--json" in split_global_flags(argv)[1])
    try:
        command_line = parse(argv)
    except UsageError as error:
        console.error("usage", str(error))
        return EXIT_USAGE
    except SystemExit as exit_request:  # --help prints and exits through argparse
        return int(exit_request.code or 0)

    # Until the log file is set up, records have nowhere to go; without a handler,
    # logging would print them, tracebacks included, on standard error.
    logging.getLogger().addHandler(logging.NullHandler())
    log_file: Path | None = None
    try:
        from .commands import check_usage
        from .process import start_blender

        check_usage(command_line)
        log_file = start_blender(console, offline=command_line.offline)
        interrupts.unblock()
        interrupts.check()
        return run(command_line, console)
    except (UsageError, ConfigurationError) as error:
        if interrupts.interrupted():
            return _report_interrupt(console)
        console.error("usage", _message(error))
        return EXIT_USAGE
    except MeshportError as error:
        if interrupts.interrupted():
            return _report_interrupt(console)
        log.info("command failed: %s", error.message)
        console.error(
            error.kind, name_log_file(error.message, log_file), getattr(error, "choices", None)
        )
        return EXIT_FAILED
    except KeyboardInterrupt:
        return _report_interrupt(console)
    except Exception as error:  # a bug: keep the traceback in the log, not on screen
        log.exception("unexpected error in '%s'", command_line.arguments.command)
        where = f"; the log {log_file} has the details" if log_file else ""
        console.error(
            "internal",
            f"'{command_line.arguments.command}' failed unexpectedly "
            f"({type(error).__name__}: {error}){where}.",
        )
        return EXIT_FAILED
    finally:
        _stop_runtime()
        # A signal from here on would end the process during Blender's shutdown, with
        # its default action, after the outcome was already reported.
        interrupts.ignore()


def run(command_line, console: Console) -> int:
    command = command_line.arguments.command
    if command == "search":
        from .commands import run_search

        return run_search(command_line, console)
    if command == "import":
        from .commands import run_import

        return run_import(command_line, console)
    if command == "status":
        from .status import run_status

        return run_status(command_line, console)
    if command == "sandbox":
        from .serve import run_sandbox

        return run_sandbox(command_line, console)
    raise UsageError(f"unknown command '{command}'")


def _message(error: Exception) -> str:
    return error.message if isinstance(error, MeshportError) else str(error)


def name_log_file(message: str, log_file: Path | None) -> str:
    """Return ``message`` with the log file's path where it mentions the log without
    one, as messages written for the sidebar do."""
    if log_file is None:
        return message
    return message.replace(LOG_PHRASE, f"The Meshport log {log_file} has the details.")


def _report_interrupt(console: Console) -> int:
    log.info("command interrupted")
    console.error("cancelled", "Interrupted.")
    return EXIT_INTERRUPTED


def _stop_runtime() -> None:
    """Cancel jobs still running and end the worker threads."""
    runtime = sys.modules.get(f"{__package__.rsplit('.', 1)[0]}.blender.runtime")
    if runtime is None:
        return
    try:
        runtime.stop()
    except Exception:  # shutting down must not hide the command's own outcome
        log.exception("stopping the job runner failed")
