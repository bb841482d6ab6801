"""The Blender side of Meshport: everything that touches ``bpy``.

``runtime`` owns the job runner and the timer that drains it, ``state`` what the
sidebar shows, ``importer`` the import into the scene, and ``service`` the calls that
the operators and the command line share.
"""
