"""The studio policy: which OS users may change keys, use which platforms and
licences, and download how large a file.

An administrator deploys a TOML file (format and example in docs/policy.md) at the
path in ``MESHPORT_POLICY``, else at ``default_policy_path()``. Without a file nothing
is restricted. The client layer calls the ``check_*`` functions before it acts, so
the rules hold for the command line as well as the UI. Each raises ``PolicyError``
with a message that names what was blocked, the role, and why.

A file that cannot be read or parsed fails closed: every check raises a
``PolicyError`` naming the file and the line, until an administrator fixes it.

This module contains the checks, the policy location and the cache of the policy in
force. ``parser`` reads and checks a policy file, ``model`` contains the parsed roles
and which role a user gets, ``identity`` reads the OS user and groups, and
``licenses`` brings licence names to one comparison form.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from pathlib import Path

from ..errors import PolicyError
from .identity import Identity, current_identity
from .licenses import ANY_LICENSE, normalize_license
from .model import UNRESTRICTED, Assignment, Policy
from .parser import BLOCKED_UNTIL_FIXED, load_policy, parse_policy, unreadable_error

__all__ = [
    "POLICY_VARIABLE",
    "UNRESTRICTED",
    "Identity",
    "Policy",
    "active_policy",
    "check_download_size",
    "check_key_change",
    "check_license",
    "check_platform",
    "current_identity",
    "default_policy_path",
    "describe",
    "download_limit",
    "load_policy",
    "parse_policy",
    "policy_path",
]

log = logging.getLogger(__name__)

POLICY_VARIABLE = "MESHPORT_POLICY"


def default_policy_path(system: str | None = None) -> Path:
    """Return the fixed policy location of an operating system (``platform.system()``
    names): ``/etc/meshport/policy.toml`` on Linux and other Unix systems,
    ``/Library/Application Support/Meshport/policy.toml`` on macOS and
    ``%ProgramData%\\Meshport\\policy.toml`` on Windows."""
    system = system or platform.system()
    if system == "Windows":
        program_data = os.environ.get("ProgramData") or r"C:\ProgramData"
        return Path(program_data) / "Meshport" / "policy.toml"
    if system == "Darwin":
        return Path("/Library/Application Support/Meshport/policy.toml")
    return Path("/etc/meshport/policy.toml")


def policy_path() -> tuple[Path, bool]:
    """Return the policy path and whether ``MESHPORT_POLICY`` named it."""
    from_env = os.environ.get(POLICY_VARIABLE, "").strip()
    if from_env:
        return Path(from_env).expanduser(), True
    return default_policy_path(), False


_cache: dict[Path, tuple[tuple[int, int], Policy]] = {}
_cache_lock = threading.Lock()


def active_policy() -> Policy:
    """Return the policy in force, read again whenever the file changes.

    Raises ``PolicyError`` when the file cannot be read or parsed, and when
    ``MESHPORT_POLICY`` names a file that does not exist.
    """
    path, explicit = policy_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        if explicit:
            raise PolicyError(
                f"The studio policy file {path} named by {POLICY_VARIABLE} does not exist, "
                f"so {BLOCKED_UNTIL_FIXED}. Correct or clear {POLICY_VARIABLE}."
            ) from None
        return UNRESTRICTED
    except OSError as error:
        raise unreadable_error(path, error) from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    policy = load_policy(path)
    with _cache_lock:
        _cache[path] = (stamp, policy)
    log.info("studio policy loaded from %s with %d roles", path, len(policy.roles))
    return policy


def check_platform(
    platform_id: str, *, policy: Policy | None = None, identity: Identity | None = None
) -> None:
    """Raise ``PolicyError`` unless the user's role may use ``platform_id``."""
    policy, assignment = _assignment(policy, identity, f"the use of {platform_id}")
    role = assignment.role
    if role is None or role.platforms is None or platform_id in role.platforms:
        return
    allowed = ", ".join(sorted(role.platforms)) or "none"
    raise PolicyError(
        f"Studio policy blocked {platform_id}: role '{role.name}' ({assignment.source}) "
        f"may use only these platforms: {allowed}.{_ask_admin(policy)}",
        platform=platform_id,
    )


def check_license(
    license_name: str, *, policy: Policy | None = None, identity: Identity | None = None
) -> None:
    """Raise ``PolicyError`` unless the user's role allows assets under
    ``license_name`` (a label such as "CC Attribution", a slug such as ``cc0``, or an
    SPDX id). An empty licence is unknown and passes only a role without a list."""
    policy, assignment = _assignment(policy, identity, "this licence")
    role = assignment.role
    if role is None or role.licenses is None or ANY_LICENSE in role.licenses:
        return
    if license_name.strip() and normalize_license(license_name) in role.licenses:
        return
    shown = f"the licence '{license_name}'" if license_name.strip() else "an unknown licence"
    allowed = ", ".join(role.license_names) or "none"
    raise PolicyError(
        f"Studio policy blocked an asset with {shown}: role '{role.name}' "
        f"({assignment.source}) allows only these licences: {allowed}.{_ask_admin(policy)}"
    )


def check_download_size(
    size_bytes: int | None, *, policy: Policy | None = None, identity: Identity | None = None
) -> None:
    """Raise ``PolicyError`` when ``size_bytes`` exceeds the role's maximum download.

    An unknown size (None) passes, so the transfer must stop itself once it passes
    ``download_limit()``.
    """
    policy, assignment = _assignment(policy, identity, "downloads")
    role = assignment.role
    if role is None or role.max_download_bytes is None or size_bytes is None:
        return
    if size_bytes <= role.max_download_bytes:
        return
    raise PolicyError(
        f"Studio policy blocked a download of {_megabytes(size_bytes)}: role '{role.name}' "
        f"({assignment.source}) allows at most {_megabytes(role.max_download_bytes)} per "
        f"download.{_ask_admin(policy)}"
    )


def download_limit(*, policy: Policy | None = None, identity: Identity | None = None) -> int | None:
    """Return the role's maximum download in bytes, or None for no limit."""
    _, assignment = _assignment(policy, identity, "downloads")
    return assignment.role.max_download_bytes if assignment.role else None


def check_key_change(
    platform_id: str, *, policy: Policy | None = None, identity: Identity | None = None
) -> None:
    """Raise ``PolicyError`` unless the user's role may set, replace or delete the key
    or sign-in of ``platform_id``."""
    policy, assignment = _assignment(policy, identity, f"key changes for {platform_id}")
    role = assignment.role
    if role is None or role.key_changes is True:
        return
    if isinstance(role.key_changes, frozenset) and platform_id in role.key_changes:
        return
    raise PolicyError(
        f"Studio policy blocked changing the {platform_id} key: role '{role.name}' "
        f"({assignment.source}) may not change keys for it.{_ask_admin(policy)}",
        platform=platform_id,
    )


def describe(*, policy: Policy | None = None, identity: Identity | None = None) -> str:
    """Return one line for the Status panel: the policy file and the user's role."""
    try:
        policy, assignment = _assignment(policy, identity, "anything")
    except PolicyError as error:
        return error.message
    if policy.path is None:
        return "No studio policy is installed, so nothing is restricted."
    return f"Studio policy {policy.path}: role '{assignment.role.name}' ({assignment.source})."


def _assignment(
    policy: Policy | None, identity: Identity | None, action: str
) -> tuple[Policy, Assignment]:
    policy = policy if policy is not None else active_policy()
    if policy.path is None:
        return policy, Assignment(None, "no policy")
    assignment = policy.assignment(identity or current_identity())
    if assignment.role is None:
        raise PolicyError(
            f"Studio policy blocked {action}: {assignment.source} matches no entry in "
            f"[users] or [groups] and the file sets no default_role.{_ask_admin(policy)}"
        )
    return policy, assignment


def _ask_admin(policy: Policy) -> str:
    return f" Ask your studio administrator to change the policy file {policy.path}."


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / 1_000_000:,.1f} MB ({size_bytes:,} bytes)"

