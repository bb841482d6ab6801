"""The ``meshport`` command line: search, import, sandbox and status in headless Blender.

``bin/meshport`` loads the repository as the package ``meshport`` and calls
``cli.main.main``.
"""
