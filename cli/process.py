"""Prepare the headless Blender process the command line runs in, and write .blend
files without ever leaving a partial one under the requested name."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..core.errors import MeshportError
from . import interrupts
from .output import PROGRAM, Console, printable

log = logging.getLogger(__name__)

LOG_NAME = "meshport.log"
# The log is moved aside to meshport.log.1 when a run starts and finds it this large.
MAX_LOG_BYTES = 5 * 2**20
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TRACEBACK_HEADER = "Traceback (most recent call last)"


def start_blender(console: Console, *, offline: bool) -> Path:
    """Import ``bpy``, send logs and Blender's own output to the log file under the
    Blender user folder, and set online access as Blender's ``--online-mode`` (or,
    with ``offline``, ``--offline-mode``) would. Returns the log file's path."""
    import bpy

    from ..blender import service

    log_file = service.user_data_dir() / "logs" / LOG_NAME
    _rotate(log_file)
    console.capture_stray_output(log_file)
    _configure_logging(log_file, console)
    bpy.context.preferences.system.use_online_access = not offline
    log.info("command line started, online access %s", "off" if offline else "on")
    return log_file


def _rotate(log_file: Path) -> None:
    if log_file.is_file() and log_file.stat().st_size > MAX_LOG_BYTES:
        os.replace(log_file, log_file.with_name(LOG_NAME + ".1"))


class _WarningFormatter(logging.Formatter):
    """Format a warning as its first line, with control characters escaped because
    the message may carry names from a server. The log file keeps the whole message
    and any traceback."""

    def __init__(self, log_file: Path):
        super().__init__()
        self.log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        first, *rest = record.getMessage().splitlines() or [""]
        more = f" (the rest of this message is in {self.log_file})" if rest else ""
        return f"{PROGRAM}: warning: {printable(first)}{more}"


class _MeshportWarnings(logging.Filter):
    """Pass Meshport's own warnings; errors reach the user through the command's
    error message, and their tracebacks stay in the log file.

    A warning whose text contains a Python traceback also stays in the log only: the
    importer logs one before it raises the error that states the reason.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("meshport") or record.levelno != logging.WARNING:
            return False
        return TRACEBACK_HEADER not in record.getMessage()


def _configure_logging(log_file: Path, console: Console) -> None:
    """Log everything from INFO up to the file; show Meshport's own warnings on
    standard error as well."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(file_handler)

    warnings = logging.StreamHandler(console.stderr)
    warnings.setLevel(logging.WARNING)
    warnings.addFilter(_MeshportWarnings())
    warnings.setFormatter(_WarningFormatter(log_file))
    root.addHandler(warnings)


def new_empty_file() -> None:
    """Start from an empty scene; preferences such as online access stay set."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)


def save_blend(out: Path) -> Path:
    """Save the open file as ``out``: first under a hidden temporary name in the same
    folder, then renamed, so ``out`` is either complete or untouched.

    The folder must exist; ``commands.check_out_path`` checks it before any work, so
    no folder is created. Raises ``MeshportError`` when Blender cannot write the file,
    and ``KeyboardInterrupt`` when Ctrl+C or SIGTERM arrived before the rename.
    """
    import bpy

    out = out.resolve()
    temporary = out.with_name(f".{out.stem}.{os.getpid()}.saving.blend")
    try:
        bpy.ops.wm.save_as_mainfile(filepath=str(temporary), check_existing=False, copy=True)
        interrupts.check()
        os.replace(temporary, out)
    except (RuntimeError, OSError) as error:
        raise MeshportError(
            f"Cannot write {out} ({_reason(error)}). Check that the folder is writable and "
            "has free space."
        ) from error
    finally:
        # Blender writes "<name>@" first and renames it; remove both after a failure.
        for leftover in (temporary, temporary.with_name(temporary.name + "@")):
            leftover.unlink(missing_ok=True)
    log.info("saved %s", out)
    return out


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
