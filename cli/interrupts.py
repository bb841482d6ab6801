"""Ctrl+C and SIGTERM for the command line: recorded when they arrive, acted on at
safe points.

A ``KeyboardInterrupt`` raised while ``bpy`` is being imported leaves Blender half
initialised: the process may crash, print a traceback and carry on, or lose its
operators. So ``bin/meshport`` blocks SIGINT and SIGTERM before anything else,
the handler below only records a signal, and ``unblock`` lets a pending one through
once Blender has started. The command then calls ``check`` between steps. A second
signal after Blender has started raises at once, for an importer that does not
return.
"""

from __future__ import annotations

import logging
import signal

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[int] = []
_raise_on_repeat = False


def block() -> None:
    """Hold SIGINT and SIGTERM pending until ``unblock``. The signal mask and pending
    signals are preserved across ``execve`` (signal(7)), so the launcher can call this
    before it starts the venv's Python."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def install() -> None:
    """Record SIGINT and SIGTERM instead of raising ``KeyboardInterrupt``."""
    for number in SIGNALS:
        signal.signal(number, _record)


def unblock() -> None:
    """Deliver a signal held since ``block`` and let the next one raise at once if one
    is already recorded. Call once ``bpy`` is imported."""
    global _raise_on_repeat
    install()
    _raise_on_repeat = True
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def ignore() -> None:
    """Discard SIGINT and SIGTERM from now on, once the outcome is reported, so that
    neither ends the process with its default action while Blender shuts down."""
    for number in SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def interrupted() -> bool:
    return bool(_received)


def check() -> None:
    """Raise ``KeyboardInterrupt`` when a signal was recorded."""
    if _received:
        log.info("stopping at a safe point after %s", signal.Signals(_received[0]).name)
        raise KeyboardInterrupt


def _record(signal_number, frame) -> None:
    # No logging here: the handler may run while the main thread holds a logging lock.
    repeated = bool(_received)
    _received.append(signal_number)
    if repeated and _raise_on_repeat:
        raise KeyboardInterrupt
