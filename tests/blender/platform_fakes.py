"""Helpers for the service tests, whose fake Sketchfab and Poly Haven servers are
fixtures in this folder's conftest.py."""

from __future__ import annotations

JOB_TIMEOUT = 60.0


class Outcome:
    """Collects a job's ``on_done`` and ``on_error`` callbacks."""

    def __init__(self):
        self.result = None
        self.error = None

    def done(self, job, result):
        self.result = result

    def failed(self, job, error):
        self.error = error
