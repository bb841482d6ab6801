"""The parsed policy: its roles, and which role a user gets from [users], [groups] or
``default_role``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .identity import Identity

log = logging.getLogger(__name__)


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
