"""The ``sandbox`` command: serve the sample library until SIGINT or SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import threading
from pathlib import Path

from ..core.errors import MeshportError
from .arguments import CommandLine
from .output import Console

log = logging.getLogger(__name__)

SAMPLE_VARIABLE = "MESHPORT_SAMPLE_ASSETS"


def run_sandbox(command_line: CommandLine, console: Console) -> int:
    from .. import sandbox
    from ..blender import service
    from ..sandbox.library import load_library

    port = command_line.arguments.port
    report = _request_reporter(console, command_line.json)
    try:
        server = sandbox.create_server(port, on_request=report)
    except OSError as error:
        raise MeshportError(
            f"Cannot listen on 127.0.0.1:{port} ({error.strerror}). Choose another --port, "
            "or leave it out to use a free one."
        ) from error

    # The handlers go in before anything is printed, so a signal sent as soon as the
    # variables appear still ends the sandbox cleanly.
    with stop_signals() as stop:
        try:
            state_dir = service.user_data_dir() / "sandbox"
            console.note(f"preparing the sample library in {state_dir}")
            library = load_library(state_dir, sample_folder())
            sandbox.serve_library(server, library)
            server.start()
            environment = sandbox.environment(server)
            _announce(console, command_line.json, server, environment, len(library.models))
            # A timed wait returns to Python regularly, so the signal handler gets to run.
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
    console.note("sandbox stopped")
    return 0


def sample_folder() -> Path | None:
    value = os.environ.get(SAMPLE_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def _request_reporter(console: Console, json_mode: bool):
    lock = threading.Lock()

    def report(line: str) -> None:
        with lock:
            if json_mode:
                method, path, status = line.split(" ", 2)
                console.json_line(
                    {"event": "request", "method": method, "path": path, "status": int(status)}
                )
            else:
                console.line(line)

    return report


def _announce(console: Console, json_mode: bool, server, environment: dict, model_count: int):
    if json_mode:
        console.json_line({"event": "ready", "url": server.url, "environment": environment})
    else:
        for name, value in environment.items():
            console.line(f"export {name}={shlex.quote(value)}")
    console.note(
        f"serving {model_count} models on {server.url}; paste the export lines above into "
        "the shell that runs bin/meshport, and press Ctrl+C here to stop"
    )


@contextlib.contextmanager
def stop_signals():
    """Turn SIGINT and SIGTERM into setting the yielded event, then restore the
    previous handlers."""
    stop = threading.Event()

    def request_stop(signal_number, frame):
        log.info("sandbox received %s", signal.Signals(signal_number).name)
        stop.set()

    previous = {
        number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
