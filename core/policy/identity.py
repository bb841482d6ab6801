"""The OS account Meshport runs as, which the policy's [users] and [groups] entries
match."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from ..errors import PolicyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """The OS account Meshport runs as; names compare without regard to case."""

    user: str
    groups: tuple[str, ...] = ()


def current_identity() -> Identity:
    """Return the OS user name and group names of this process.

    On Unix the names come from the user database for the real user id, not from
    ``USER`` or ``LOGNAME``, which the user can set to anything.
    """
    if sys.platform == "win32":
        return Identity(_windows_user_name())
    import grp
    import pwd

    entry = pwd.getpwuid(os.getuid())
    names = []
    for gid in os.getgrouplist(entry.pw_name, entry.pw_gid):
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return Identity(entry.pw_name, tuple(names))


def _windows_user_name() -> str:
    # NOTE: group membership is not read on Windows, so only [users] entries and
    # default_role apply there.
    import ctypes

    size = ctypes.c_ulong(257)
    buffer = ctypes.create_unicode_buffer(size.value)
    if not ctypes.windll.advapi32.GetUserNameW(buffer, ctypes.byref(size)):
        raise PolicyError(
            "Meshport could not read the Windows user name to apply the studio policy."
        )
    return buffer.value
