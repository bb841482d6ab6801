"""Run ``bin/meshport`` as a subprocess, as a user would.

Every run gets its own Blender user folder (``BLENDER_USER_RESOURCES``) and temp
folder (``TMPDIR``), no ``MESHPORT_*`` variable from the calling shell, and a keyring
backend that always fails, so no key stored on the machine leaks into a test.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from support import REPO_ROOT, SAMPLE_ASSETS, require

MESHPORT = REPO_ROOT / "bin" / "meshport"
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
RUN_TIMEOUT = 240  # seconds; one run imports bpy and may download and import models
SANDBOX_READY_TIMEOUT = 240
SANDBOX_VARIABLES = ("MESHPORT_SKETCHFAB_URL", "MESHPORT_POLYHAVEN_URL", "MESHPORT_SKETCHFAB_KEY")
NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def require_blender() -> None:
    require(VENV_PYTHON.exists(), f"{VENV_PYTHON} is missing (make venv)")


def clean_environment(user_dir: Path, temp_dir: Path, extra: dict[str, str] | None = None):
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("MESHPORT_")
    }
    environment.pop("DBUS_SESSION_BUS_ADDRESS", None)
    environment.update(NO_KEYRING)
    environment["BLENDER_USER_RESOURCES"] = str(user_dir)
    environment["TMPDIR"] = str(temp_dir)
    environment.update(extra or {})
    return environment


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


class Meshport:
    """Runs ``bin/meshport`` with a private user folder and temp folder under ``base``."""

    def __init__(self, base: Path):
        self.user_dir = base / "blender-user"
        self.temp_dir = base / "tmp"
        self.user_dir.mkdir(parents=True)
        self.temp_dir.mkdir(parents=True)

    def run(self, *arguments: str, env: dict[str, str] | None = None) -> Run:
        completed = subprocess.run(
            [str(MESHPORT), *arguments],
            check=False,
            capture_output=True,
            text=True,
            env=clean_environment(self.user_dir, self.temp_dir, env),
            timeout=RUN_TIMEOUT,
        )
        return Run(completed.returncode, completed.stdout, completed.stderr)


class SandboxProcess:
    """``bin/meshport sandbox`` running in the background; ``lines`` collects what it
    prints on standard output."""

    def __init__(self, user_dir: Path, temp_dir: Path, *arguments: str, env=None):
        extra = dict(env or {})
        if SAMPLE_ASSETS.is_dir():
            extra.setdefault("MESHPORT_SAMPLE_ASSETS", str(SAMPLE_ASSETS))
        self.process = subprocess.Popen(
            [str(MESHPORT), "sandbox", *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_environment(user_dir, temp_dir, extra),
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._new_lines: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.variables = self._wait_for_variables()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))
            self._new_lines.put(line.rstrip("\n"))

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.errors.append(line.rstrip("\n"))

    def _wait_for_variables(self) -> dict[str, str]:
        variables: dict[str, str] = {}
        deadline = time.monotonic() + SANDBOX_READY_TIMEOUT
        while set(variables) != set(SANDBOX_VARIABLES):
            if self.process.poll() is not None and self._new_lines.empty():
                raise RuntimeError("sandbox exited early: " + "\n".join(self.errors[-20:]))
            try:
                line = self._new_lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise RuntimeError(
                    "sandbox printed no variables: " + "\n".join(self.errors)
                ) from None
            name, _, value = line.removeprefix("export ").partition("=")
            if name in SANDBOX_VARIABLES:
                variables[name] = value
        return variables

    @property
    def url(self) -> str:
        return self.variables["MESHPORT_SKETCHFAB_URL"].rsplit("/v3", 1)[0]

    def mark(self) -> int:
        with self._lock:
            return len(self.lines)

    def requests_since(self, mark: int) -> list[str]:
        time.sleep(0.2)  # the reader thread takes the last lines
        with self._lock:
            return self.lines[mark:]

    def stop(self, signal_number: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
