"""Plain-Python core of Meshport: HTTP, jobs, downloads, archives, credentials.

Nothing in this package imports ``bpy``, so it runs on worker threads and in tests
without Blender.
"""
