"""Fixtures for the command-line tests: a private ``bin/meshport`` runner per test and
one sandbox per session."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cli.runner import Meshport, SandboxProcess, require_blender


@pytest.fixture
def meshport(tmp_path) -> Meshport:
    require_blender()
    return Meshport(tmp_path)


@pytest.fixture(scope="session")
def sandbox_home(tmp_path_factory) -> tuple[Path, Path]:
    """A Blender user folder and temp folder shared by the sandboxes of one session,
    so the sample library is exported once."""
    base = tmp_path_factory.mktemp("sandbox")
    user_dir, temp_dir = base / "blender-user", base / "tmp"
    user_dir.mkdir()
    temp_dir.mkdir()
    return user_dir, temp_dir


@pytest.fixture(scope="session")
def sandbox(sandbox_home):
    require_blender()
    process = SandboxProcess(*sandbox_home)
    yield process
    process.stop()


@pytest.fixture
def sandbox_env(sandbox) -> dict[str, str]:
    """The variables the sandbox printed, for a ``meshport.run`` against it."""
    return dict(sandbox.variables)


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
