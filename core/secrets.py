"""A wrapper that keeps API keys out of reprs, logs and exception messages."""

from __future__ import annotations

import hashlib


class Secret:
    """An API key or token. ``str()`` and ``repr()`` never show the value;
    call ``reveal()`` at the one place that puts it in a header."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """Return a short one-way digest, safe for cache keys and logs."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:16]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled")
