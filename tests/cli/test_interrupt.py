"""Ctrl+C and SIGTERM during ``meshport import``, from the first moments while ``bpy``
loads to the wait for a download."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from cli.runner import MESHPORT, clean_environment

UID = "0123456789abcdef0123456789abcdef"
EXIT_TIMEOUT = 30  # seconds a run may take to end after the signal


class SilentServer:
    """Accepts connections and never responds, so an import waits for its download
    until ``release`` closes every connection, held or new."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.released = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.released.is_set():
                    connection.close()
                else:
                    self.held.append(connection)

    def release(self) -> None:
        with self.lock:
            self.released.set()
            for connection in self.held:
                connection.close()
            self.held.clear()

    def close(self) -> None:
        self.release()
        self.listener.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


def interrupted_import(meshport, server, out, delay: float, signal_number: int):
    """Start an import of a local GLB and a Sketchfab model from ``server``, send the
    signal after ``delay`` seconds, and return the exit status, stdout and stderr."""
    env = {
        "MESHPORT_SKETCHFAB_URL": f"http://127.0.0.1:{server.port}/v3",
        "MESHPORT_SKETCHFAB_KEY": "test-key",
    }
    process = subprocess.Popen(
        [str(MESHPORT), "import", str(out.with_name("Box.glb")), f"sketchfab:{UID}",
         "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_environment(meshport.user_dir, meshport.temp_dir, env),
    )
    started = time.monotonic()
    wait_for_blocked_signals(process.pid, started + EXIT_TIMEOUT)
    time.sleep(max(0.0, started + delay - time.monotonic()))
    process.send_signal(signal_number)
    # Let the worker's request end once the command has given up on it.
    time.sleep(0.3)
    server.release()
    stdout, stderr = process.communicate(timeout=EXIT_TIMEOUT)
    return process.returncode, stdout, stderr


def wait_for_blocked_signals(pid: int, deadline: float) -> None:
    """Wait until the launcher, in Python, has blocked SIGINT, its first statement.

    A signal before that meets a shell shim (such as pyenv's, which itself blocks
    signals at times) or the interpreter's start-up, which no Python code can
    handle.
    """
    status = Path(f"/proc/{pid}/status")
    mask = 1 << (signal.SIGINT - 1)
    while time.monotonic() < deadline:
        try:
            program = Path(os.readlink(f"/proc/{pid}/exe")).name
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            return
        if program.startswith("python") and int(fields["SigBlk"].strip(), 16) & mask:
            return
        time.sleep(0.005)


@pytest.mark.parametrize("delay", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0])
def test_sigint_exits_130_without_file(meshport, sample_assets, silent_server, tmp_path, delay):
    (tmp_path / "Box.glb").write_bytes((sample_assets / "glb" / "Box.glb").read_bytes())
    out = tmp_path / "scene.blend"

    returncode, stdout, stderr = interrupted_import(
        meshport, silent_server, out, delay, signal.SIGINT
    )

    assert returncode == 130, stderr
    assert stderr.splitlines()[-1] == "meshport: error: Interrupted."
    assert "Traceback" not in stderr
    assert "could not be found" not in stderr
    assert stdout == ""
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "Box.glb", "blender-user", "tmp"
    ]
    assert list(meshport.temp_dir.iterdir()) == []


def test_sigterm_while_bpy_loads_exits_130(meshport, sample_assets, silent_server, tmp_path):
    (tmp_path / "Box.glb").write_bytes((sample_assets / "glb" / "Box.glb").read_bytes())
    out = tmp_path / "scene.blend"

    returncode, _, stderr = interrupted_import(meshport, silent_server, out, 0.3, signal.SIGTERM)

    assert returncode == 130, stderr
    assert stderr.splitlines()[-1] == "meshport: error: Interrupted."
    assert not out.exists()


@pytest.mark.parametrize("delay", [0.9, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3, 1.5])
def test_sigint_near_the_save_gives_one_clear_outcome(meshport, sample_assets, tmp_path, delay):
    """Around the save, a signal either stops the run (130, no file) or comes too late
    to matter (0, the file); it never kills the process during Blender's shutdown."""
    out = tmp_path / "scene.blend"
    sources = [
        sample_assets / "glb" / "Fox.glb",
        sample_assets / "fbx" / "maya_cube_7400_binary.fbx",
    ]
    process = subprocess.Popen(
        [str(MESHPORT), "import", *map(str, sources), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_environment(meshport.user_dir, meshport.temp_dir, {}),
    )
    started = time.monotonic()
    wait_for_blocked_signals(process.pid, started + EXIT_TIMEOUT)
    time.sleep(max(0.0, started + delay - time.monotonic()))

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=EXIT_TIMEOUT)

    assert (process.returncode, out.is_file()) in ((130, False), (0, True)), stderr
