"""Reading a policy file: TOML syntax first, then the policy format. Every problem
raises a ``PolicyError`` that names the file and the line."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import NoReturn

from ..config import PLATFORM_IDS
from ..errors import PolicyError
from .licenses import normalize_license
from .model import Policy, Role

log = logging.getLogger(__name__)

ROLE_FIELDS = ("allow_key_changes", "platforms", "licenses", "max_download_bytes")
TOP_LEVEL_KEYS = ("default_role", "users", "groups", "roles")

BLOCKED_UNTIL_FIXED = (
    "Meshport blocks platform use, downloads and key changes until an administrator fixes it"
)


def load_policy(path: Path) -> Policy:
    """Read and check a policy file; raises ``PolicyError`` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise unreadable_error(path, error) from None
    return parse_policy(text, path)


def parse_policy(text: str, path: Path) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", None) or _line_from_message(str(error))
        problem = getattr(error, "msg", None) or re.sub(r"\s*\(at line.*\)$", "", str(error))
        raise _invalid(path, line, f"it is not valid TOML ({problem})") from None
    return _PolicyReader(text, path).read(data)


def unreadable_error(path: Path, error: Exception) -> PolicyError:
    return PolicyError(
        f"The studio policy file {path} could not be read ({error}), so {BLOCKED_UNTIL_FIXED}."
    )


def _invalid(path: Path, line: int | None, problem: str) -> PolicyError:
    where = f"line {line}" if line else "an unknown line"
    return PolicyError(
        f"The studio policy file {path} is invalid at {where}: {problem}. {BLOCKED_UNTIL_FIXED}."
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
