"""The studio policy: which OS users may change keys, use which platforms and
licences, and download how large a file.

An administrator deploys a TOML file (format and example in docs/policy.md) at the
path in ``MESHPORT_POLICY``, else at ``default_policy_path()``. Without a file nothing
is restricted. The client layer calls the ``check_*`` functions before it acts, so
the rules hold for the command line as well as the UI. Each raises ``PolicyError``
with a message that names what was blocked, the role, and why.

A file that cannot be read or parsed fails closed: every check raises a
``PolicyError`` naming the file and the line, until an administrator fixes it.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import sys
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from .config import PLATFORM_IDS
from .errors import PolicyError

log = logging.getLogger(__name__)

POLICY_VARIABLE = "MESHPORT_POLICY"
ROLE_FIELDS = ("allow_key_changes", "platforms", "licenses", "max_download_bytes")
TOP_LEVEL_KEYS = ("default_role", "users", "groups", "roles")
ANY_LICENSE = "*"

_BLOCKS_ALL = (
    "Meshport blocks platform use, downloads and key changes until an administrator fixes it"
)


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


@dataclass(frozen=True)
class Role:
    """The limits of one role. ``None`` means no limit; ``key_changes`` is True,
    False, or the platform ids whose keys may be changed."""

    name: str
    key_changes: bool | frozenset[str] = True
    platforms: frozenset[str] | None = None
    licenses: frozenset[str] | None = None
    license_names: tuple[str, ...] = ()
    max_download_bytes: int | None = None


@dataclass(frozen=True)
class Assignment:
    """The role an identity gets and which entry gave it, for messages."""

    role: Role | None
    source: str


@dataclass(frozen=True)
class Policy:
    """A parsed policy file; ``path`` is None when no file exists, which restricts
    nothing. ``users`` and ``groups`` map case-folded names to role names."""

    path: Path | None
    roles: dict[str, Role]
    users: dict[str, str]
    groups: dict[str, str]
    default_role: str | None = None

    def assignment(self, identity: Identity) -> Assignment:
        """Return the role of ``identity``: its [users] entry, else the first of its
        groups in [groups] file order, else ``default_role``."""
        role_name = self.users.get(identity.user.casefold())
        if role_name:
            return Assignment(self.roles[role_name], f"user '{identity.user}'")
        member_of = {group.casefold() for group in identity.groups}
        for group, role_name in self.groups.items():
            if group in member_of:
                return Assignment(self.roles[role_name], f"group '{group}'")
        if self.default_role:
            return Assignment(self.roles[self.default_role], "default_role")
        return Assignment(None, f"user '{identity.user}'")


UNRESTRICTED = Policy(path=None, roles={}, users={}, groups={})

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
                f"so {_BLOCKS_ALL}. Correct or clear {POLICY_VARIABLE}."
            ) from None
        return UNRESTRICTED
    except OSError as error:
        raise _unreadable(path, error) from None
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


def load_policy(path: Path) -> Policy:
    """Read and check a policy file; raises ``PolicyError`` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _unreadable(path, error) from None
    return parse_policy(text, path)


def parse_policy(text: str, path: Path) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", None) or _line_from_message(str(error))
        problem = getattr(error, "msg", None) or re.sub(r"\s*\(at line.*\)$", "", str(error))
        raise _invalid(path, line, f"it is not valid TOML ({problem})") from None
    return _PolicyReader(text, path).read(data)


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


def normalize_license(name: str) -> str:
    """Return the comparison form of a licence name: case-folded, with separators as
    hyphens, and the usual Creative Commons spellings mapped to one id."""
    key = re.sub(r"[\s_]+", "-", name.strip().casefold())
    return _LICENSE_ALIASES.get(key, key)


def _license_aliases() -> dict[str, str]:
    aliases = {"cc0-1.0": "cc0", "cc0-public-domain": "cc0", "cc-zero": "cc0"}
    variants = {
        "": "attribution",
        "-sa": "attribution-sharealike",
        "-nd": "attribution-noderivs",
        "-nc": "attribution-noncommercial",
        "-nc-sa": "attribution-noncommercial-sharealike",
        "-nc-nd": "attribution-noncommercial-noderivs",
    }
    for suffix, words in variants.items():
        canonical = f"cc-by{suffix}"
        for form in (
            f"by{suffix}",
            f"cc-by{suffix}-4.0",
            f"cc-{words}",
            f"creative-commons-{words}",
        ):
            aliases[form] = canonical
    return aliases


_LICENSE_ALIASES = _license_aliases()


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


def _unreadable(path: Path, error: Exception) -> PolicyError:
    return PolicyError(
        f"The studio policy file {path} could not be read ({error}), so {_BLOCKS_ALL}."
    )


def _invalid(path: Path, line: int | None, problem: str) -> PolicyError:
    where = f"line {line}" if line else "an unknown line"
    return PolicyError(
        f"The studio policy file {path} is invalid at {where}: {problem}. {_BLOCKS_ALL}."
    )


def _line_from_message(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None


class _PolicyReader:
    """Checks parsed TOML against the policy format, naming the line of each problem."""

    def __init__(self, text: str, path: Path):
        self.path = path
        self.lines = _KeyLines(text)

    def read(self, data: dict) -> Policy:
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                self._fail((key,), f"unknown key '{key}'; use one of {', '.join(TOP_LEVEL_KEYS)}")
        roles = self._table(data, "roles")
        parsed_roles = {name: self._role(name, value) for name, value in roles.items()}
        users = self._mapping(data, "users", parsed_roles)
        groups = self._mapping(data, "groups", parsed_roles)
        default_role = data.get("default_role")
        if default_role is not None and default_role not in parsed_roles:
            self._fail(("default_role",), f"default_role names the undefined role {default_role!r}")
        return Policy(self.path, parsed_roles, users, groups, default_role)

    def _table(self, data: dict, name: str) -> dict:
        value = data.get(name, {})
        if not isinstance(value, dict):
            self._fail((name,), f"'{name}' must be a table, written [{name}]")
        return value

    def _mapping(self, data: dict, name: str, roles: dict[str, Role]) -> dict[str, str]:
        mapping = {}
        for key, role_name in self._table(data, name).items():
            if key in TOP_LEVEL_KEYS:
                self._fail(
                    (name, key),
                    f"'{key}' is inside [{name}]; move it above the first [table] line",
                )
            if not isinstance(role_name, str) or role_name not in roles:
                defined = ", ".join(sorted(roles)) or "none"
                self._fail(
                    (name, key),
                    f"{name}.{key} must name a role defined under [roles] (defined: {defined})",
                )
            mapping[key.casefold()] = role_name
        return mapping

    def _role(self, name: str, value) -> Role:
        where = ("roles", name)
        if not isinstance(value, dict):
            self._fail(where, f"roles.{name} must be a table, written [roles.{name}]")
        for key in value:
            if key not in ROLE_FIELDS:
                self._fail(
                    (*where, key),
                    f"unknown key '{key}' in roles.{name}; use one of {', '.join(ROLE_FIELDS)}",
                )
        licenses = self._strings(value, where, "licenses")
        return Role(
            name=name,
            key_changes=self._key_changes(value, where),
            platforms=self._platforms(value, where, "platforms"),
            licenses=frozenset(normalize_license(item) for item in licenses)
            if licenses is not None
            else None,
            license_names=tuple(licenses or ()),
            max_download_bytes=self._size(value, where),
        )

    def _key_changes(self, value: dict, where: tuple[str, ...]) -> bool | frozenset[str]:
        setting = value.get("allow_key_changes", True)
        if isinstance(setting, bool):
            return setting
        platforms = self._platforms(value, where, "allow_key_changes")
        return platforms if platforms is not None else True

    def _platforms(self, value: dict, where: tuple[str, ...], key: str) -> frozenset[str] | None:
        items = self._strings(
            value, where, key, "true, false or " if key == "allow_key_changes" else ""
        )
        if items is None:
            return None
        for item in items:
            if item not in PLATFORM_IDS:
                self._fail(
                    (*where, key),
                    f"{'.'.join(where)}.{key} names the unknown platform {item!r}; "
                    f"known platforms: {', '.join(PLATFORM_IDS)}",
                )
        return frozenset(items)

    def _strings(
        self, value: dict, where: tuple[str, ...], key: str, also: str = ""
    ) -> list[str] | None:
        items = value.get(key)
        if items is None:
            return None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            self._fail((*where, key), f"{'.'.join(where)}.{key} must be {also}a list of strings")
        return items

    def _size(self, value: dict, where: tuple[str, ...]) -> int | None:
        size = value.get("max_download_bytes")
        if size is None:
            return None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            self._fail(
                (*where, "max_download_bytes"),
                f"{'.'.join(where)}.max_download_bytes must be a whole number of bytes, "
                "such as 2_000_000_000",
            )
        return size

    def _fail(self, key_path: tuple[str, ...], problem: str) -> NoReturn:
        raise _invalid(self.path, self.lines.find(key_path), problem)


class _KeyLines:
    """The line number of each table header and key in TOML text, found by reading
    the lines, because ``tomllib`` keeps no positions. Keys inside multi-line strings
    or inline tables are not found; ``find`` then returns the nearest enclosing table."""

    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")

    def __init__(self, text: str):
        self._lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                table = self._split(header.group(1))
                self._lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                self._lines.setdefault(table + self._split(key.group(1)), number)

    def find(self, key_path: tuple[str, ...]) -> int | None:
        for end in range(len(key_path), 0, -1):
            number = self._lines.get(tuple(key_path[:end]))
            if number is not None:
                return number
        return None

    @staticmethod
    def _split(dotted: str) -> tuple[str, ...]:
        return tuple(part.strip().strip("\"'") for part in dotted.split("."))
