"""Helpers shared by tests: where the repository and sample assets are, and
``require``, which skips locally but fails under ``CI=true``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
SAMPLE_ASSETS = Path(
    os.environ.get("MESHPORT_SAMPLE_ASSETS", str(REPO_ROOT.parent / "shared" / "assets"))
)


def require(condition: bool, reason: str) -> None:
    """Skip the calling test when ``condition`` is false, but fail under ``CI=true``,
    where every part of the test bed must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required part missing under CI=true: {reason}")
    pytest.skip(reason)
