"""Meshport: search 3D-asset platforms from the 3D View sidebar and import the result.

Blender-facing modules are imported inside ``register`` so that the plain-Python
packages (``core``, ``platforms``) can be imported without ``bpy``.
"""


def register():
    from .blender import addon

    addon.register()


def unregister():
    from .blender import addon

    addon.unregister()
