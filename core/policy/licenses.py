"""Licence names in one comparison form, so that a role's licence list matches the
spellings that platforms use."""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

ANY_LICENSE = "*"


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
