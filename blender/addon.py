"""Register and unregister every part of the add-on, in dependency order."""

from __future__ import annotations

import logging

from .. import operators, panels, preferences
from . import runtime, signin

log = logging.getLogger(__name__)


def register() -> None:
    preferences.register()
    operators.register()
    panels.register()
    runtime.start_timer()
    log.info("Meshport registered")


def unregister() -> None:
    # Jobs stop first, so no callback can reach a class that is already gone.
    if not runtime.stop():
        log.warning("Meshport was disabled while a worker thread was still ending")
    signin.reset()
    panels.unregister()
    operators.unregister()
    preferences.unregister()
    log.info("Meshport unregistered")
