"""Find the data-blocks an importer created, and remove them again after a failure."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import bpy

log = logging.getLogger(__name__)

# The ``bpy.data`` collections an importer may add to. Objects come first so that
# removing them frees their data for the later kinds. Kinds missing from a Blender
# version are skipped.
DATA_KINDS = (
    "objects",
    "collections",
    "meshes",
    "curves",
    "armatures",
    "materials",
    "images",
    "textures",
    "node_groups",
    "actions",
    "cameras",
    "lights",
    "lattices",
    "worlds",
)


@dataclass(frozen=True)
class DataSnapshot:
    """The data-blocks that existed at one moment, by kind, as memory addresses."""

    pointers: dict[str, frozenset[int]]

    @classmethod
    def take(cls) -> DataSnapshot:
        pointers = {
            kind: frozenset(block.as_pointer() for block in blocks)
            for kind, blocks in _data_collections()
        }
        return cls(pointers)

    def created(self) -> dict[str, list]:
        """Return the data-blocks added since the snapshot, by kind."""
        found = {}
        for kind, blocks in _data_collections():
            before = self.pointers.get(kind, frozenset())
            found[kind] = [block for block in blocks if block.as_pointer() not in before]
        return found


def _data_collections():
    for kind in DATA_KINDS:
        blocks = getattr(bpy.data, kind, None)
        if blocks is not None:
            yield kind, blocks


def remove_created(snapshot: DataSnapshot) -> int:
    """Remove every data-block added since ``snapshot`` and return how many."""
    created = snapshot.created()
    blocks = [block for kind in DATA_KINDS for block in created.get(kind, [])]
    if blocks:
        bpy.data.batch_remove(blocks)
        log.info("removed %d data-blocks left by a failed import", len(blocks))
    return len(blocks)
